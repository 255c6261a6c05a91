"""Structured logs that never carry message text, tokens or platform user ids.

Records are JSON lines with UTC times. ``extra`` fields are allowed only from a safe list;
anything else (and any exception text, which can echo user input) is dropped or reduced to
its type. Token-shaped strings (Telegram bot tokens, bearer tokens, LINE user ids) are masked
wherever they appear, because a URL or an SDK message can carry them without anyone noticing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import time

SAFE_EXTRA = {
    "conversation", "ticket", "user", "channel", "event_id", "outbox", "state", "status",
    "attempts", "lexicon", "entry", "intent", "duration_ms", "count", "kind", "path", "method",
    "error_type", "staff", "action", "port", "host", "worker",
}
_STD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Libraries whose INFO/DEBUG output dumps SQL rows (decrypted!), request or update bodies.
# why in the formatter: whoever turns the level up to debug a problem must not leak user text
_BODY_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.orm", "linebot", "telegram", "httpcore", "hpack", "aiohttp", "urllib3", "multipart", "python_multipart")

# why these shapes: they are the secrets and ids that end up in URLs and SDK error strings
_REDACT = [
    (re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}"), "<telegram-token>"),  # Telegram bot token
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer <token>"),
    (re.compile(r"\b[UCR][0-9a-f]{32}\b"), "<line-id>"),  # LINE user / group / room id
    (re.compile(r"(?i)(x-line-signature|x-telegram-bot-api-secret-token|authorization)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"), r"\1\2<secret>"),
]


def redact(text: str) -> str:
    """Masks token- and id-shaped substrings."""
    for pattern, repl in _REDACT:
        text = pattern.sub(repl, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: t (UTC), level, logger, msg and the safe extras only."""

    converter = staticmethod(time.gmtime)  # why: log lines carry UTC (ASVS 16.2.2), whatever the host zone

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "t": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "logger": record.name,
            "msg": _omitted(record) or redact(_message(record)),
        }
        for key, value in vars(record).items():
            if key in _STD:
                continue
            if key in SAFE_EXTRA:
                out[key] = _safe_value(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            # why only the type: exception messages can contain user text (e.g. a JSON decode error)
            out["error_type"] = record.exc_info[0].__name__
            frames = []
            tb = record.exc_info[2]
            while tb is not None:
                frames.append(f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}")
                tb = tb.tb_next
            out["where"] = " > ".join(frames[-4:])
        return json.dumps(out, ensure_ascii=False)


def _omitted(record: logging.LogRecord) -> str | None:
    if record.levelno < logging.WARNING and record.name.startswith(_BODY_LOGGERS):
        return "<library debug output omitted: it can carry personal data>"
    return None


def _message(record: logging.LogRecord) -> str:
    # why never raise: logging's own error path (Handler.handleError) prints the raw arguments
    try:
        if not record.args:
            return str(record.msg)
        args = record.args
        if isinstance(args, dict):
            return str(record.msg) % {k: _scrub(v) for k, v in args.items()}
        return str(record.msg) % tuple(_scrub(a) for a in args)
    except Exception:
        return f"<unformattable log message at {record.filename}:{record.lineno}>"


def _safe_value(key: str, value):
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if key == "user":
        # why: only internal ids belong here; anything else might be a platform id, so hash it
        return "h:" + hashlib.sha256(str(value).encode()).hexdigest()[:12]
    return redact(str(value)[:80])


def _scrub(value):
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = str(value)
    return text if len(text) <= 120 else text[:120] + "…"


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_ristapo", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._ristapo = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # why also at DEBUG: httpx logs full request URLs, and Telegram puts the bot token in the URL
    for noisy in ("httpx", "httpcore", "uvicorn.access", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
