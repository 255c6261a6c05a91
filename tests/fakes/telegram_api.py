"""A local fake of the Telegram Bot API on 127.0.0.1 for the real python-telegram-bot client.

PTB posts every method as ``POST /bot<token>/<method>``, form-encoded, with nested objects
(``reply_markup``) as JSON strings inside the form (research/channels.md §2.4); JSON bodies
are accepted too. The fake records every call, answers the methods the adapter uses, and
returns scripted errors on demand::

    with FakeBotAPI() as api:
        api.fail("sendMessage", 429, retry_after=1)      # the next sendMessage only
        ...  Application.builder().token(api.token).base_url(api.base_url) ...
        api.calls_to("sendMessage")[0]["text"]

It runs in a daemon thread (stdlib ``http.server``), so it does not care which event loop the
client uses.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "りすたぽ(fake)", "username": "ristapo_fake_bot", "can_join_groups": False}

_DESCRIPTIONS = {
    400: "Bad Request: message text is empty",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    content_type: str


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    description: str | None
    times: int
    after: int = 0


@dataclass
class FakeBotAPI:
    """The fake server; ``base_url`` goes to ``ApplicationBuilder.base_url``."""

    token: str = "123456:TEST-token"
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[_Failure]] = {}
        self._message_ids = itertools.count(1000)
        self.webhook: dict[str, Any] = {}
        self._server: ThreadingHTTPServer | None = None

    # -- scripting -------------------------------------------------------------------------
    def fail(
        self, method: str, status: int, *, retry_after: int | None = None, description: str | None = None, times: int = 1, after: int = 0
    ) -> None:
        """Makes ``times`` calls of ``method`` answer ``status`` (429: with ``retry_after``), after ``after`` good ones."""
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(status, retry_after, description, times, after))

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The decoded parameters of every call of ``method``, oldest first (failed ones too)."""
        with self._lock:
            return [c.params for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "FakeBotAPI is not running"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """PTB appends the token: ``<base_url><token>/<method>``."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeBotAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST  # the Bot API accepts GET with a query string too

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bot-api", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path, _, query = req.path.partition("?")
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return self._reply(req, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = parts[0][3:], parts[1]
        if token != self.token:
            return self._reply(req, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        params = _decode(raw, ctype, query)
        with self._lock:
            self.calls.append(Call(method, params, ctype))
            failure = self._take_failure(method)
        if failure is not None:
            body: dict[str, Any] = {"ok": False, "error_code": failure.status}
            desc = failure.description or _DESCRIPTIONS.get(failure.status, "Error")
            body["description"] = desc.format(retry_after=failure.retry_after)
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return self._reply(req, failure.status, body)
        if method == "sendMessage" and not params.get("text"):
            return self._reply(req, 400, {"ok": False, "error_code": 400, "description": _DESCRIPTIONS[400]})
        result = self._result(method, params)
        if result is None:
            return self._reply(req, 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
        return self._reply(req, 200, {"ok": True, "result": result})

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        if failure.after > 0:
            failure.after -= 1
            return None
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _result(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            return {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(p["chat_id"]), "type": "private"},
                "from": {k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")},
                "text": p["text"],
            }
        if method in ("answerCallbackQuery", "deleteWebhook", "sendChatAction"):
            return True
        if method == "setWebhook":
            self.webhook = dict(p)
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
        if method == "editMessageReplyMarkup":
            return True
        return None

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


def _decode(raw: bytes, ctype: str, query: str) -> dict[str, Any]:
    """Form or JSON body (plus query string) → params; JSON-looking form values are decoded."""
    params: dict[str, Any] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        params[k] = _maybe_json(v)
    if ctype == "application/json" and raw:
        params.update(json.loads(raw))
    elif raw:
        for k, v in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
            params[k] = _maybe_json(v)
    return params


def _maybe_json(value: str) -> Any:
    # why: PTB sends nested objects (reply_markup, allowed_updates) as JSON strings in the form
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
