"""The settings a turn reads (office hours, retention days): cached per process, never stale here.

Why these tests: the worker's turn used to ask the database for both one-row settings tables on
every message (issue 20's profile: about a quarter of a turn). They are now cached for about a
second (:mod:`bot.turn_settings`); a change saved through this process must show in the very
next answer, and a change another process saved must show within the cache's lifetime.
"""
from __future__ import annotations

from sqlalchemy import event

from bot import turn_settings as ts
from core import db
from core.messages import A_ENTRY
from core.service_settings import RETENTION_DAYS, do_set_value
from handoff.hours import do_save_hours
from handoff.models import OfficeHoursBase

SATURDAY_ONLY = OfficeHoursBase(weekly={"5": [("09:00", "18:00")]}, public_holidays=False)


def _settings_queries(fn) -> int:
    """How many statements ``fn`` sent that read a settings table."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        if "office_settings" in statement or "service_setting" in statement:
            seen.append(statement)

    engine = db.engine()
    event.listen(engine, "before_cursor_execute", note)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return len(seen)


def test_turns_in_a_row_read_the_settings_tables_once(consented_chat):
    ts.clear_turn_settings_cache()

    def five_turns():
        for _ in range(5):
            consented_chat.press(A_ENTRY + "uketsuke-jikan")

    # one read per table for the first turn; the next four use the cached values
    assert _settings_queries(five_turns) <= 2
    assert "8時30分から17時15分" in consented_chat.last[-1].text


def test_hours_saved_in_this_process_show_in_the_next_answer(consented_chat):
    out = consented_chat.press(A_ENTRY + "uketsuke-jikan")
    assert "8時30分から17時15分" in out[-1].text  # the defaults, now cached
    with db.session_scope() as s:
        do_save_hours(s, SATURDAY_ONLY, staff_id=None)
    out = consented_chat.press(A_ENTRY + "uketsuke-jikan")
    assert "土曜日の9時から18時まで" in out[-1].text and "8時30分から17時15分" not in out[-1].text


def test_retention_saved_in_this_process_shows_in_the_next_consent_text(chat, settings):
    first = chat.say("こんにちは")
    assert any(f"{settings.retention_days}日" in m.text for m in first if m.kind == "consent")
    with db.session_scope() as s:
        do_set_value(s, RETENTION_DAYS, "90", staff_id=None)
    chat.user = "user-2"  # a new user is shown the consent text
    out = chat.say("こんにちは")
    consent = [m.text for m in out if m.kind == "consent"]
    assert consent and "90日" in consent[0]


def test_a_session_with_its_own_unsaved_change_neither_uses_nor_fills_the_cache(settings):
    ts.clear_turn_settings_cache()
    with db.session_scope() as s:
        before = ts.turn_settings(s)  # fills the cache with the defaults
    assert ts._cache is not None
    with db.engine().connect() as conn:
        trans = conn.begin()
        from sqlmodel import Session

        with Session(bind=conn) as s:
            do_save_hours(s, SATURDAY_ONLY, staff_id=None)  # flushed, not committed
            mine = ts.turn_settings(s)
            assert "土曜日" in mine.office_hours
            assert ts._cache is None or ts._cache[3] is not mine
        trans.rollback()
    with db.session_scope() as s:
        after = ts.turn_settings(s)
    assert after.office_hours == before.office_hours  # the rolled-back change is not served


def test_another_process_change_is_seen_after_the_cache_lifetime(consented_chat, monkeypatch):
    from sqlalchemy import text

    consented_chat.press(A_ENTRY + "uketsuke-jikan")  # cached now
    # another process: a plain SQL write on its own connection, no session hooks in this one
    with db.engine().begin() as conn:
        conn.execute(text("INSERT INTO office_settings (id, hours_json, updated_at) VALUES (1, :j, CURRENT_TIMESTAMP)"),
                     {"j": SATURDAY_ONLY.model_dump_json()})
    clock = [ts.time.monotonic() + ts.CACHE_SECONDS + 0.1]
    monkeypatch.setattr(ts.time, "monotonic", lambda: clock[0])
    out = consented_chat.press(A_ENTRY + "uketsuke-jikan")
    assert "土曜日の9時から18時まで" in out[-1].text
