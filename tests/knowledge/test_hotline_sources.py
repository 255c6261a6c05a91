"""Every number and chat service shown to a person in danger names the page it was read on, and when.

Issue 18: a number read from an undated page must never reach a user; unverified items stay in
the file with ``show: false`` and are never shown.
"""
from __future__ import annotations

import datetime as dt

from knowledge.hotlines import crisis_phone_text, hotlines, text_help_text, text_services


def _dated(item: dict) -> bool:
    read = item.get("read")
    if isinstance(read, str):
        read = dt.date.fromisoformat(read)
    return isinstance(read, dt.date)


def test_every_shown_hotline_and_text_service_has_a_source_and_a_read_date():
    shown = list(hotlines()) + list(text_services())
    assert shown
    missing = [item.get("id") for item in shown
               if not str(item.get("source") or "").startswith("https://") or not _dated(item)]
    assert missing == []


def test_the_crisis_reply_shows_only_sourced_numbers():
    sourced = {str(h["number"]) for h in hotlines()}
    at = dt.datetime(2026, 12, 2, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    text = crisis_phone_text(violence=True, at=at) + text_help_text(violence=True, at=at)
    import re

    numbers = set(re.findall(r"\b0\d{2,4}-\d{2,4}-\d{3,4}\b|\b1[18]9\b|\b110\b", text))
    assert numbers and numbers <= sourced
