"""Crisis hotlines read from ``knowledge/hotlines.yaml`` (each with its public source)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

HOTLINES_FILE = Path(__file__).resolve().parents[1] / "knowledge" / "hotlines.yaml"

# why a fallback: the crisis reply must never fail, even if the data file is broken or missing.
_FALLBACK = [
    {"name": "警察(緊急)", "number": "110"},
    {"name": "よりそいホットライン(24時間)", "number": "0120-279-338"},
    {"name": "こころの健康相談統一ダイヤル", "number": "0570-064-556"},
]


@lru_cache
def hotlines() -> list[dict]:
    try:
        data = yaml.safe_load(HOTLINES_FILE.read_text(encoding="utf-8"))
        items = data.get("hotlines", data) if isinstance(data, dict) else data
        good = [h for h in items if isinstance(h, dict) and h.get("name") and h.get("number")]
        return good or _FALLBACK
    except Exception:
        return _FALLBACK


def hotline_text() -> str:
    lines = []
    for h in hotlines():
        hours = f"({h['hours']})" if h.get("hours") else ""
        lines.append(f"・{h['name']} {h['number']}{hours}")
    return "\n".join(lines)
