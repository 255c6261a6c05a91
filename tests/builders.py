"""Builders for test payloads: sensible defaults plus keyword overrides (state only what matters)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time

_seq = itertools.count(1)


def sign(body: bytes | str, secret: str) -> str:
    """The ``X-Line-Signature`` LINE would send: base64(HMAC-SHA256(secret, body))."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return base64.b64encode(hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest()).decode()


def _merge(base: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def make_line_event(type_: str = "message", *, user_id: str = "U-test", **overrides) -> dict:
    """One LINE webhook event from a 1:1 chat with a unique ``webhookEventId`` and a fresh timestamp."""
    n = next(_seq)
    event = {
        "type": type_,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": f"01TESTEVENT{n:015d}",
        "deliveryContext": {"isRedelivery": False},
    }
    if type_ in ("message", "follow", "postback"):
        event["replyToken"] = f"reply-token-{n}"
    return _merge(event, overrides)


def make_line_text_event(text: str, user_id: str = "U-test", **overrides) -> dict:
    n = next(_seq)
    base = {"message": {"type": "text", "id": f"4{n:017d}", "quoteToken": f"q{n}", "text": text}}
    return make_line_event("message", user_id=user_id, **_merge(base, overrides))


def make_line_postback_event(data: str, user_id: str = "U-test", **overrides) -> dict:
    return make_line_event("postback", user_id=user_id, **_merge({"postback": {"data": data}}, overrides))


def line_body(*events: dict, destination: str = "U0123456789abcdef0123456789abcdef") -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode("utf-8")
