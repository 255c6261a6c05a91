"""The canary: user messages carry 「CANARY-前科-9137」; no log line and no database byte may show it.

Logs are captured from the root logger at DEBUG (SQL statements and parameters included)
and rendered by the project's JSON formatter, exactly as ``ristapo serve`` would write them.
The database file and its WAL are read as bytes: the text must exist only as ciphertext.
"""
from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core import db
from core.logs import JsonFormatter
from core.models import Message
from tests.builders import line_body, make_line_postback_event, make_line_text_event, sign
from tests.conftest import CANARY, CanaryCatcher
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)

VARIANTS = (CANARY, CANARY.lower(), CANARY.replace("-", "－"))


@pytest.fixture
def all_logs(caplog, monkeypatch):
    """Every record of every logger at DEBUG, formatted by the project's JSON formatter."""
    caplog.set_level(logging.DEBUG)
    # why these too: libraries pin their own loggers (sqlalchemy at import, linebot in bot/channels/line/adapter.py)
    libraries = ("sqlalchemy", "linebot", "httpx", "httpcore", "uvicorn", "aiohttp", "telegram")
    # ... and the children core.logs.setup_logging quietens (an earlier test in the session may
    # have run it: then "sqlalchemy.engine" stays at WARNING whatever its parent says)
    for name in libraries + ("sqlalchemy.engine", "sqlalchemy.orm", "uvicorn.access", "alembic"):
        caplog.set_level(logging.DEBUG, logger=name)
    # why: a logging.config.dictConfig run earlier in the session (uvicorn's, when a test serves
    # in-process) disables every logger that existed then; the capture must see them all again
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and (name.startswith(libraries) or name.startswith("ristapo")):
            monkeypatch.setattr(logger, "disabled", False)
    caplog.handler.setFormatter(JsonFormatter())
    return caplog


def drive_engine(chat) -> None:
    """Consent, FAQ, hand-off with intake, crisis, a declined user, deletion: all with the canary."""
    chat.say(f"出所したけど住むところがない {CANARY}")
    chat.press("c:y")
    chat.say(f"更生保護施設ってどんなところ {CANARY}")
    chat.say(f"明日の天気 {CANARY}")
    chat.say(f"人と話したい {CANARY}")
    chat.press("i:who:self")
    chat.say(f"自分で書く {CANARY}")  # free text in the intake
    chat.press("i:urgency:week")
    chat.press("i:contact:chat")
    chat.say(f"まだ待っています {CANARY}")
    chat.say(f"もう死にたい {CANARY}")
    chat.say(f"記録を消して {CANARY}")
    chat.press("d:y")
    chat.say(f"もう一度 {CANARY}")

    chat.user = "declined-user"
    chat.say(f"こんにちは {CANARY}")
    chat.press("c:n")
    chat.say(f"仕事を探したい {CANARY}")
    chat.press("h")
    chat.say(f"消えたい {CANARY}")

    chat.user = "crisis-first"
    chat.say(f"首を吊る {CANARY}")


def drive_web(client: TestClient) -> None:
    client.get("/chat")
    for text in (f"こんにちは {CANARY}", f"仕事を探したい {CANARY}", f"死にたい {CANARY}", CANARY * 300):
        client.post("/chat", data={"text": text})
    client.post("/chat", data={"action": "c:y"})
    client.post("/chat", data={"text": f"住むところ {CANARY}"})
    client.get("/chat")
    client.get("/chat?partial=1")
    client.post("/chat", data={"action": f"e:{CANARY}"})  # a forged action carrying the canary
    client.post("/chat", content=f"text={CANARY}".encode() + b"\xff\xfe", headers={"content-type": "application/x-www-form-urlencoded"})


def drive_line(env) -> None:
    user = "U" + "c" * 32
    env.post(make_line_text_event(f"こんにちは {CANARY}", user_id=user))
    env.post(make_line_postback_event("c:y", user_id=user))
    env.process()
    env.post(make_line_text_event(f"仕事を探したい {CANARY}", user_id=user))
    env.post(make_line_text_event(f"死にたい {CANARY}", user_id=user))
    env.process()
    body = line_body(make_line_text_event(f"署名なし {CANARY}", user_id=user))
    env.post(body=body, signature="AAAA")  # rejected: the security log line must not carry the body
    env.post(body=body[:-5], signature=sign(body[:-5], env.secret))  # broken JSON with a valid signature
    env.post(make_line_text_event(f"記録を消して {CANARY}", user_id=user))
    env.process()
    env.post(make_line_postback_event("d:y", user_id=user))
    env.process()


def assert_no_canary_in(records, formatter: JsonFormatter) -> None:
    assert records, "the capture saw the service's log lines"
    for record in records:
        line = formatter.format(record)
        # our own code must not even build such a message; libraries are judged by what leaves the process
        raw = record.getMessage() if record.name.startswith("ristapo") else ""
        for variant in VARIANTS:
            assert variant not in line and variant not in raw, f"canary in a log line of {record.name} ({record.filename}:{record.lineno})"


def assert_no_canary_on_disk(settings) -> None:
    """Every file under the data dir (database, -wal, -shm, keys) as raw bytes."""
    url = str(db.engine().url)
    if not url.startswith("sqlite:///"):
        return  # PostgreSQL variant: the server's files are not ours to read
    db_path = url.split("///", 1)[1]
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert any(str(p) == db_path for p in files) and files
    needles = [v.encode("utf-8") for v in VARIANTS] + [CANARY.encode("utf-16-le")]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"canary in plain text in {path.name}"


def test_canary_never_reaches_logs_or_the_database_file(settings, chat, all_logs, request):
    from bot.app import create_app

    drive_engine(chat)
    with TestClient(create_app(settings.model_copy(update={"run_workers": False}))) as client:
        drive_web(client)
    drive_line(request.getfixturevalue("line_env"))

    with db.session_scope() as s:  # the text really was stored (encrypted) where consent allowed it
        assert any(m.body and CANARY in m.body for m in s.exec(select(Message)).all())
    assert any(r.name.startswith("sqlalchemy.engine") for r in all_logs.records), "SQL and parameters were captured too"
    assert_no_canary_in(all_logs.records, JsonFormatter())
    assert CANARY not in all_logs.text
    assert_no_canary_on_disk(settings)


def test_the_session_wide_catcher_notices_a_leak():
    catcher = CanaryCatcher()
    logger = logging.getLogger("ristapo.test.leak")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "user wrote %s", (f"x {CANARY}",), None)
    catcher.handle(record)
    assert catcher.hits == [f"ristapo.test.leak ({__name__.rsplit('.', 1)[-1]}.py:1)"]
    safe = logger.makeRecord(logger.name, logging.INFO, __file__, 2, "turn handled", (), None, extra={"text": CANARY})
    catcher.hits.clear()
    catcher.handle(safe)
    assert catcher.hits == [], "an unsafe extra is dropped by the formatter, so it never leaves the process"
