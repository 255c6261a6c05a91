"""Crisis hotlines and text services read from ``knowledge/hotlines.yaml`` (each item names its source).

Used by the bot's crisis reply (numbers in a fixed order: 110/119, the free 24-hour lines,
violence lines when violence is involved, then the rest), the hand-off notice (a short list)
and the text-help reply for people who cannot call (only services open at that hour).
"""
from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

HOTLINES_FILE = Path(__file__).with_name("hotlines.yaml")
JST = ZoneInfo("Asia/Tokyo")

# why a fallback: a crisis reply must never fail, even if the data file is broken or missing.
_FALLBACK = (
    {"id": "police", "name": "警察", "number": "110", "group": "emergency", "cost": "free", "open": "always"},
    {"id": "yorisoi", "name": "よりそいホットライン", "number": "0120-279-338", "group": "free24", "cost": "free", "hours": "24時間", "open": "always"},
)
COST_WORDS = {"free": "無料", "paid": "通話料がかかる"}


@lru_cache
def _data() -> dict[str, Any]:
    try:
        data = yaml.safe_load(HOTLINES_FILE.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {"hotlines": data}
    except Exception:
        return {}


@lru_cache
def hotlines() -> tuple[dict[str, Any], ...]:
    """Every hotline that may be shown (a name and a number, not ``show: false``), in file order."""
    items = _data().get("hotlines") or []
    good = tuple(h for h in items if isinstance(h, dict) and h.get("name") and h.get("number") and h.get("show", True))
    return good or _FALLBACK


@lru_cache
def text_services() -> tuple[dict[str, Any], ...]:
    """Every chat/SNS service that may be shown, in file order."""
    items = _data().get("text_services") or []
    return tuple(s for s in items if isinstance(s, dict) and s.get("name") and s.get("show", True))


def _spans(item: dict[str, Any]) -> list[tuple[time, time]]:
    spans = item.get("open")
    if not isinstance(spans, list):
        return []
    return [(time.fromisoformat(s), time.fromisoformat(e)) for s, e in spans]


def is_open(item: dict[str, Any], at: datetime) -> bool | None:
    """Open at ``at`` (JST daily spans, or "always"); None when the hours are unknown."""
    if item.get("open") == "always":
        return True
    spans = _spans(item)
    if not spans:
        return None
    clock = at.astimezone(JST).time()
    return any(start <= clock < end for start, end in spans)


def opens_at(item: dict[str, Any], at: datetime) -> str | None:
    """When a closed daily service opens next, as 「12時」/「明日12時」 (None: unknown)."""
    spans = _spans(item)
    if not spans:
        return None
    clock = at.astimezone(JST).time()
    later = [s for s, _e in spans if s > clock]
    start = later[0] if later else spans[0][0]
    word = "" if later else "明日"
    return f"{word}{start.hour}時" + (f"{start.minute}分" if start.minute else "")


def format_line(h: dict[str, Any]) -> str:
    """「・name number(無料・24時間)」: the cost and hours as the source states them."""
    notes = [w for w in (COST_WORDS.get(h.get("cost") or ""), h.get("hours")) if w]
    return f"・{h['name']} {h['number']}" + (f"({'・'.join(notes)})" if notes else "")


def hotline_text(numbers: tuple[str, ...] | None = None) -> str:
    """One line per hotline, optionally only the given numbers."""
    chosen = [h for h in hotlines() if numbers is None or str(h["number"]) in numbers]
    if not chosen:
        chosen = list(_FALLBACK)
    return "\n".join(format_line(h) for h in chosen)


def crisis_phone_text(*, violence: bool = False, at: datetime | None = None) -> str:
    """The numbers of a crisis reply, most urgent first, short enough for one phone screen.

    Order: 110/119, the free 24-hour lines, DV相談+ and 189 when violence is involved, then
    the other lines (a line with daily hours only while it is open).
    """
    at = at or datetime.now(JST)
    by_group: dict[str, list[dict[str, Any]]] = {}
    for h in hotlines():
        by_group.setdefault(h.get("group") or "other", []).append(h)
    blocks = []
    emergency = by_group.get("emergency") or [_FALLBACK[0]]
    blocks.append("いま命や体が危ないとき\n" + "\n".join(format_line(h) for h in emergency))
    free = list(by_group.get("free24") or [])
    if violence:
        free += by_group.get("violence") or []
    if free:
        blocks.append("話を聞いてくれる電話\n" + "\n".join(format_line(h) for h in free))
    rest = [h for h in by_group.get("other") or [] if is_open(h, at) is not False]
    if rest:
        blocks.append("ほかの電話\n" + "\n".join(format_line(h) for h in rest))
    return "\n".join(blocks)


def text_help_text(*, violence: bool = False, at: datetime | None = None) -> str:
    """Chat/SNS services open now, and when the closed ones open (empty: none to offer)."""
    at = at or datetime.now(JST)
    open_now, later = [], []
    for s in text_services():
        if s.get("violence_only") and not violence:
            continue
        state = is_open(s, at)
        if state:
            open_now.append(f"・{s['name']}:{s.get('how') or ''}({s.get('hours') or ''})")
        elif state is False:
            later.append(f"・{s['name']}は{opens_at(s, at)}から")
    lines = []
    if open_now:
        lines.append("いま文字で相談できるところ")
        lines += open_now
    if later:
        lines.append("いまは閉まっているところ")
        lines += later
    return "\n".join(lines)
