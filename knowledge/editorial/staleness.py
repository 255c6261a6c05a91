"""Whether an entry's date says it needs re-checking, read from what kind of date it is.

An ``as_of`` names different things, and each ages differently:

- a snapshot (「令和5年4月1日現在」「令和6年版 白書 時点」「2023年度 実績」): figures that a newer
  edition replaces; re-check SNAPSHOT_MONTHS after its date;
- a period (「令和5〜9年度」): true until the period ends; re-check when it has ended;
- a rule in force (「令和3年4月1日施行」「…通知による」「閣議決定」「開始」): the date is when the
  rule began, not how fresh the text is; its age alone is no reason to flag it. It is flagged
  when its source changes (seed hashes) or RULE_REVIEW_MONTHS after the last console publish
  (the last time an editor read it against the source);
- anything else with a date: treated as a snapshot.

Why: with one "older than 12 months" rule, 30 of 37 entries were flagged (most of them rules
from 2021 that are still in force), so the flag told editors nothing.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date
from pathlib import Path

from knowledge.editorial.eras import ERAS, parse_as_of
from knowledge.kb import Entry

SNAPSHOT_MONTHS = 12
RULE_REVIEW_MONTHS = 36

_PERIOD = re.compile(r"(令和|平成)\s*(元|\d{1,2})\s*[〜~～\-－ー]\s*(\d{1,2})\s*年度")
_RULE = re.compile(r"施行|通知|閣議決定|開始|整備完了|協議済み|による")
_SNAPSHOT = re.compile(r"現在|時点|実績|年版|年度")


def period_end(as_of: str) -> date | None:
    """The last day of a Japanese fiscal-year period named in ``as_of`` (「令和5〜9年度」 → 2028-03-31)."""
    m = _PERIOD.search(unicodedata.normalize("NFKC", as_of or "").replace("~", "〜"))
    if not m:
        return None
    last_fy = ERAS[m.group(1)] + int(m.group(3))
    return date(last_fy + 1, 3, 31)


def kind_of(as_of: str) -> str:
    """``period`` | ``rule`` | ``snapshot`` (see the module docstring)."""
    text = unicodedata.normalize("NFKC", as_of or "")
    if period_end(text) is not None:
        return "period"
    if _SNAPSHOT.search(text) and not re.search(r"施行|閣議決定|開始|整備完了", text):
        return "snapshot"
    if _RULE.search(text):
        return "rule"
    return "snapshot"


def months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def date_reasons(as_of: str, as_of_date: date | None, last_checked: date | None, today: date) -> list[str]:
    """Why the entry's dates call for a re-check (empty: nothing to do)."""
    kind = kind_of(as_of)
    if kind == "period":
        end = period_end(as_of)
        return [f"期間が終わっています({as_of})。新しい計画・制度を確かめてください"] if end and today > end else []
    if kind == "rule":
        if last_checked is not None and months_between(last_checked, today) >= RULE_REVIEW_MONTHS:
            return [f"制度の説明を最後に公開してから{RULE_REVIEW_MONTHS}か月以上たちました。今も同じか確かめてください"]
        return []
    if as_of_date is None:
        return ["基準日(as_of)が読み取れません"]
    if months_between(as_of_date, today) >= SNAPSHOT_MONTHS:
        return [f"数字や状況は基準日から{SNAPSHOT_MONTHS}か月以上前のものです({as_of})。新しい版を確かめてください"]
    return []


def seed_hashes(entry: Entry, seeds_dir: Path | None) -> dict[str, str]:
    """SHA-256 of each seed file the entry quotes (missing files are left out)."""
    hashes: dict[str, str] = {}
    if seeds_dir is None:
        return hashes
    for s in entry.sources:
        if s.seed and s.seed not in hashes:
            path = seeds_dir / s.seed
            if path.is_file():
                hashes[s.seed] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def stale_reasons(entry: Entry, *, last_checked: date | None, recorded_seeds: str | None, seeds_dir: Path | None, today: date) -> list[str]:
    """Why an entry should be re-checked: an old ``as_of`` or a seed changed since publish.

    ``last_checked`` is when it was last published, ``recorded_seeds`` the seed hashes stored
    then (JSON), both None for an entry never published through the console.
    """
    reasons = date_reasons(entry.as_of, parse_as_of(entry.as_of), last_checked, today)
    if recorded_seeds:
        recorded = json.loads(recorded_seeds)
        current = seed_hashes(entry, seeds_dir)
        for seed, digest in recorded.items():
            if seed in current and current[seed] != digest:
                reasons.append(f"元資料 {seed} が公開後に変わりました")
    return reasons
