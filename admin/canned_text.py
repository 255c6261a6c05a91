"""Canned replies with the office's own facts filled in when staff pick them.

A canned reply may say ``{電話番号}`` (the office's phone number, ``RISTAPO_OFFICE_PHONE``)
and ``{受付時間}`` (the office hours an admin set in the console). When a value is missing,
the whole sentence that needs it is left out: a reply never shows an empty gap or a
placeholder, and never a number nobody configured.
"""
from __future__ import annotations

import re

from handoff.hours import WEEKDAYS_JA
from handoff.models import OfficeHoursBase

PHONE = "{電話番号}"
HOURS = "{受付時間}"
_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]|\n|$)")


def hours_text(hours: OfficeHoursBase) -> str:
    """Office hours in plain words, e.g. 「月曜日から金曜日の 8時30分から17時15分(祝日・年末年始を除く)」."""
    by_spans: dict[tuple[tuple[str, ...], ...], list[int]] = {}
    for day, spans in sorted(hours.weekly.items(), key=lambda kv: int(kv[0])):
        if spans:
            by_spans.setdefault(tuple(tuple(s) for s in spans), []).append(int(day))
    parts = []
    for same_spans, days in by_spans.items():
        times = "、".join(f"{_clock(a)}から{_clock(b)}" for a, b in same_spans)
        parts.append(f"{_days(days)}の {times}")
    if not parts:
        return ""
    closed = []
    if hours.public_holidays:
        closed.append("祝日")
    if any(d.startswith("12-") for d in hours.closed_days):
        closed.append("年末年始")
    return "、".join(parts) + (f"({'・'.join(closed)}を除く)" if closed else "")


def _clock(hhmm: str) -> str:
    h, m = hhmm.split(":")
    return f"{int(h)}時" + (f"{int(m)}分" if int(m) else "")


def _days(days: list[int]) -> str:
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAYS_JA[days[0]]}曜日から{WEEKDAYS_JA[days[-1]]}曜日"
    return "・".join(f"{WEEKDAYS_JA[d]}曜日" for d in days)


def fill(body: str, *, phone: str | None, hours: str | None) -> str:
    """The reply as sent: placeholders replaced; a sentence whose value is missing is dropped."""
    values = {PHONE: (phone or "").strip(), HOURS: (hours or "").strip()}
    out = []
    for sentence in _SENTENCE.findall(body):
        if not sentence:
            continue
        if any(key in sentence and not value for key, value in values.items()):
            continue
        for key, value in values.items():
            sentence = sentence.replace(key, value)
        out.append(sentence)
    return "".join(out).strip()
