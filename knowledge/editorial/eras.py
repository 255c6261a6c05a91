"""Dates as entries write them: Japanese eras (令和5年4月1日現在) and western dates (2024-04-01)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925}
_ERA_DATE = re.compile(r"(令和|平成|昭和)\s*(元|\d{1,2})\s*年(?:\s*(\d{1,2})\s*月)?(?:\s*(\d{1,2})\s*日)?")
_WESTERN = re.compile(r"((?:19|20)\d{2})\s*[年/.\-]\s*(\d{1,2})(?:\s*[月/.\-]\s*(\d{1,2}))?")
_YEAR_ONLY = re.compile(r"((?:19|20)\d{2})\s*年")


def parse_as_of(text: str) -> date | None:
    """The newest date an ``as_of`` string names (令和5年4月1日現在, 平成31年3月, 2024-04-01, 2024年4月).

    Why the newest: strings like 「令和3年4月1日施行(令和3年3月29日 通知)」 name several dates,
    and the information is as fresh as the latest of them.
    """
    text = unicodedata.normalize("NFKC", text or "")
    found: list[date | None] = []
    for m in _ERA_DATE.finditer(text):
        year = ERAS[m.group(1)] + (1 if m.group(2) == "元" else int(m.group(2)))
        found.append(_safe_date(year, int(m.group(3) or 1), int(m.group(4) or 1)))
    for m in _WESTERN.finditer(text):
        found.append(_safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)))
    if not found:
        found += [_safe_date(int(m.group(1)), 1, 1) for m in _YEAR_ONLY.finditer(text)]
    dates = [d for d in found if d is not None]
    return max(dates) if dates else None


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None
