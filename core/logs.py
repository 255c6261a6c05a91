"""Structured logs that never carry message text, tokens or platform user ids.

Records are JSON lines. ``extra`` fields are allowed only from a safe list; anything else
(and any exception text, which can echo user input) is dropped or reduced to its type.
"""
from __future__ import annotations

import json
import logging
import sys

SAFE_EXTRA = {
    "conversation", "ticket", "user", "channel", "event_id", "outbox", "state", "status",
    "attempts", "lexicon", "entry", "intent", "duration_ms", "count", "kind", "path", "method",
    "error_type", "staff", "action", "port", "host", "worker",
}
_STD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "t": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage() if not record.args else record.msg % tuple(_scrub(a) for a in record.args),
        }
        for key, value in vars(record).items():
            if key in _STD:
                continue
            if key in SAFE_EXTRA:
                out[key] = value if isinstance(value, (int, float, bool)) or value is None else str(value)[:80]
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
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
