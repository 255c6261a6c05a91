"""The 要確認 flag follows what kind of date an entry names: snapshot, period, or rule in force."""
from __future__ import annotations

from datetime import date

import pytest

from knowledge.editorial.eras import parse_as_of
from knowledge.editorial.staleness import date_reasons, kind_of, period_end

TODAY = date(2026, 12, 2)


def _stale(as_of: str, last_checked: date | None = None) -> bool:
    return bool(date_reasons(as_of, parse_as_of(as_of), last_checked, TODAY))


@pytest.mark.parametrize("as_of, stale", [
    ("令和6年版 再犯防止推進白書（2024年）時点", True),   # a newer edition replaces the figures
    ("令和5年4月1日現在（法務省保護局資料）", True),
    ("2026年11月 このサービスの説明", False),
    ("令和3年4月1日施行（令和3年3月29日 厚生労働省通知）", False),  # a rule still in force: its age says nothing
    ("令和3年3月29日 厚生労働省通知による", False),
    ("令和5年3月17日閣議決定（令和5〜9年度）", False),  # the plan runs to March 2028
    ("平成30年12月閣議決定（平成30〜令和4年度）", False),  # not a period this module reads: a rule
    ("令和元〜4年度 計画", True),  # ended in March 2023
])
def test_each_kind_of_date_ages_in_its_own_way(as_of, stale):
    assert _stale(as_of) is stale, (kind_of(as_of), date_reasons(as_of, parse_as_of(as_of), None, TODAY))


def test_a_rule_is_flagged_when_nobody_checked_it_for_three_years():
    assert _stale("令和3年4月1日施行", last_checked=date(2023, 11, 1))
    assert not _stale("令和3年4月1日施行", last_checked=date(2025, 4, 1))


def test_period_end_is_the_last_day_of_the_fiscal_year():
    assert period_end("令和5〜9年度") == date(2028, 3, 31)
    assert period_end("令和5年度") is None


def test_the_shipped_entries_are_not_all_flagged():
    from knowledge.kb import ENTRIES_DIR, parse_entry

    entries = [parse_entry(p.read_text(encoding="utf-8")) for p in sorted(ENTRIES_DIR.glob("*.md"))]
    flagged = [e.id for e in entries if date_reasons(e.as_of, parse_as_of(e.as_of), None, TODAY)]
    rules = [e.id for e in entries if kind_of(e.as_of) == "rule"]
    assert rules and not set(rules) & set(flagged)  # no rule in force is flagged for its age
    assert len(flagged) < len(entries) * 0.6
