"""Crisis hotlines read from ``knowledge/hotlines.yaml`` (each item names its public source).

Used by the bot's crisis reply (the full list) and the hand-off notice (a short list).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

HOTLINES_FILE = Path(__file__).with_name("hotlines.yaml")

# why a fallback: a crisis reply must never fail, even if the data file is broken or missing.
_FALLBACK = (
    {"name": "警察(緊急)", "number": "110"},
    {"name": "よりそいホットライン", "number": "0120-279-338", "hours": "24時間"},
    {"name": "こころの健康相談統一ダイヤル", "number": "0570-064-556"},
)


@lru_cache
def hotlines() -> tuple[dict, ...]:
    """Every hotline with a name and a number, in file order."""
    try:
        data = yaml.safe_load(HOTLINES_FILE.read_text(encoding="utf-8"))
        items = data.get("hotlines", data) if isinstance(data, dict) else data
        good = tuple(h for h in items if isinstance(h, dict) and h.get("name") and h.get("number"))
        return good or _FALLBACK
    except Exception:
        return _FALLBACK


def hotline_text(numbers: tuple[str, ...] | None = None) -> str:
    """One line per hotline (「・name number(hours)」), optionally only the given numbers."""
    chosen = [h for h in hotlines() if numbers is None or str(h["number"]) in numbers]
    if not chosen:
        chosen = list(_FALLBACK)
    return "\n".join(f"・{h['name']} {h['number']}" + (f"({h['hours']})" if h.get("hours") else "") for h in chosen)
