"""A local fake of the LINE Messaging API: a real HTTP server on 127.0.0.1 in a thread.

The real ``AsyncMessagingApi`` talks to it through ``RISTAPO_LINE_API_BASE``. It records every
request (path, headers incl. ``X-Line-Retry-Key``, JSON body) and answers from a queue of
scripted responses (200/400/409/429/500/slow), else 200. Like LINE, a push whose retry key was
already accepted gets 409 and is not delivered again, and a reply whose token was already
used gets 400 "Invalid reply token"; :attr:`FakeLineApi.accepted` lists the requests that
LINE would have delivered. A slow answer (``delay``) is decided, and so accepted, *before*
the delay: a client killed while waiting has had its message delivered.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Scripted:
    """One scripted answer. ``delay`` sleeps before answering (a slow or timed-out call)."""

    status: int = 200
    delay: float = 0.0
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    path: str | None = None  # only for requests to this path (None: any)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: dict | None
    status: int = 0
    raw: bytes = b""

    @property
    def retry_key(self) -> str | None:
        return self.headers.get("x-line-retry-key")

    @property
    def messages(self) -> list[dict]:
        return (self.body or {}).get("messages") or []

    @property
    def texts(self) -> list[str]:
        """Every human-readable string in the messages (text, flex text, altText)."""
        out: list[str] = []

        def walk(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k in ("text", "altText") and isinstance(v, str):
                        out.append(v)
                    else:
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(self.messages)
        return out


PUSH = "/v2/bot/message/push"
REPLY = "/v2/bot/message/reply"


class FakeLineApi:
    """Start with :meth:`start` (or the ``line_api`` fixture); ``base_url`` goes into settings."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Scripted] = deque()
        self.default_delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once (connection limits)
        self.default_status = 200  # e.g. 503 while a test simulates a LINE outage
        self._accepted_keys: set[str] = set()
        self._used_reply_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control
    def start(self) -> FakeLineApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # why: headers and body go out in two writes; with Nagle on, a keep-alive client's
            # delayed ACK held every answer ≈ 40 ms
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw and "json" in (self.headers.get("Content-Type") or "") else None
                except ValueError:
                    body = None
                status, payload, headers, delay = fake._decide(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if delay:
                        time.sleep(delay)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout) or died

            do_POST = do_GET = do_DELETE = do_PUT = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def then(self, *responses: Scripted | int, path: str | None = None) -> FakeLineApi:
        """Queues scripted answers, e.g. ``fake.then(500, 500, Scripted(200, delay=2), 200, path=PUSH)``."""
        for r in responses:
            s = Scripted(r) if isinstance(r, int) else r
            if path is not None and s.path is None:
                s.path = path
            self.script.append(s)
        return self

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.script.clear()
            self._accepted_keys.clear()
            self._used_reply_tokens.clear()
            self.max_in_flight = 0

    # -- what happened
    def sends(self) -> list[Recorded]:
        """Reply and push requests, in arrival order."""
        return [r for r in self.requests if r.path in ("/v2/bot/message/reply", "/v2/bot/message/push")]

    @property
    def accepted(self) -> list[Recorded]:
        """Reply/push requests LINE would have delivered (2xx; a repeated retry key is not one)."""
        return [r for r in self.sends() if 200 <= r.status < 300]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    # -- decision
    def _decide(self, method: str, path: str, headers: dict, body: dict | None, raw: bytes = b""):
        with self._lock:
            rec = Recorded(method, path, headers, body, raw=raw if body is None else b"")
            self.requests.append(rec)
            scripted = None
            for i, s in enumerate(self.script):
                if s.path is None or s.path == path:
                    scripted = s
                    del self.script[i]
                    break
            key = headers.get("x-line-retry-key")
            status = scripted.status if scripted else self.default_status
            delay = scripted.delay if scripted else self.default_delay
            extra = dict(scripted.headers) if scripted else {}
            if path == "/v2/bot/message/push" and key and key in self._accepted_keys:
                # like LINE: the same retry key is accepted once; repeats get 409
                status, scripted = 409, None
            reply_token = (body or {}).get("replyToken") if path == REPLY else None
            if reply_token and reply_token in self._used_reply_tokens:
                # like LINE: a reply token works once, whatever became of the first call
                status, scripted = 400, Scripted(400, body={"message": "Invalid reply token"})
            if 200 <= status < 300 and key:
                self._accepted_keys.add(key)
            if 200 <= status < 300 and reply_token:
                self._used_reply_tokens.add(reply_token)
            rec.status = status
        if scripted and scripted.body is not None:
            payload = scripted.body
        elif status == 409:
            payload = {"message": "The retry key is already accepted", "sentMessages": [{"id": "1", "quoteToken": "q"}]}
        elif 200 <= status < 300:
            if path.startswith("/v2/bot/richmenu") and method == "POST" and path == "/v2/bot/richmenu":
                payload = {"richMenuId": "richmenu-fake-1"}
            else:
                n = len((body or {}).get("messages") or [])
                payload = {"sentMessages": [{"id": str(1000 + i), "quoteToken": "q"} for i in range(n)]} if n else {}
        else:
            payload = {"message": f"fake error {status}"}
        return status, payload, extra, delay


def block_real_line_api(monkeypatch) -> None:
    """Makes any LINE SDK request to a non-loopback host fail the test (no test reaches api.line.me)."""
    import pytest
    from linebot.v3.messaging import async_rest, rest

    def guard(original):
        async def async_request(self, method, url, *args, **kwargs):
            if not url.startswith(("http://127.0.0.1", "http://localhost")):
                pytest.fail(f"a test tried to reach the real LINE API: {url.split('/v2')[0]}")
            return await original(self, method, url, *args, **kwargs)

        def sync_request(self, method, url, *args, **kwargs):
            if not url.startswith(("http://127.0.0.1", "http://localhost")):
                pytest.fail(f"a test tried to reach the real LINE API: {url.split('/v2')[0]}")
            return original(self, method, url, *args, **kwargs)

        return async_request if asyncio_iscoroutine(original) else sync_request

    monkeypatch.setattr(async_rest.RESTClientObject, "request", guard(async_rest.RESTClientObject.request))
    monkeypatch.setattr(rest.RESTClientObject, "request", guard(rest.RESTClientObject.request))


def asyncio_iscoroutine(fn) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


# ---------------------------------------------------------------------- fixtures
# Test modules import these names (``from tests.fakes.line_api import line_api, line_env``).

import asyncio  # noqa: E402

import pytest  # noqa: E402

LINE_SECRET = "test-channel-secret"
LINE_TOKEN = "test-channel-access-token"


@pytest.fixture(scope="session")
def line_api_server():
    fake = FakeLineApi().start()
    yield fake
    fake.stop()


@pytest.fixture
def line_api(line_api_server) -> FakeLineApi:
    """The running fake, emptied for this test."""
    line_api_server.reset()
    line_api_server.default_delay = 0.0
    line_api_server.default_status = 200
    return line_api_server


@dataclass
class LineEnv:
    """The app with LINE on (workers off: tests drive them), a TestClient and one event loop."""

    app: object
    client: object
    fake: FakeLineApi
    loop: asyncio.AbstractEventLoop
    secret: str = LINE_SECRET

    @property
    def adapter(self):
        return self.app.state.line_adapter

    def drive(self, coro):
        return self.loop.run_until_complete(coro)

    def post(self, *events: dict, body: bytes | None = None, signature: str | None = "auto"):
        from tests.builders import line_body, sign

        raw = body if body is not None else line_body(*events)
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            headers["X-Line-Signature"] = sign(raw, self.secret)
        elif signature is not None:
            headers["X-Line-Signature"] = signature
        return self.client.post("/webhooks/line", content=raw, headers=headers)

    def process(self) -> tuple[int, int]:
        """Runs the inbox worker, then the delivery worker, once each."""
        from bot import pipeline

        return self.drive(pipeline.run_inbox_once()), self.drive(pipeline.run_outbox_once())


@pytest.fixture
def line_env(settings, line_api, monkeypatch):
    from fastapi.testclient import TestClient

    from bot import pipeline
    from bot.app import create_app
    from core.settings import get_settings

    monkeypatch.setenv("RISTAPO_LINE_CHANNEL_SECRET", LINE_SECRET)
    monkeypatch.setenv("RISTAPO_LINE_CHANNEL_ACCESS_TOKEN", LINE_TOKEN)
    monkeypatch.setenv("RISTAPO_LINE_API_BASE", line_api.base_url)
    monkeypatch.setenv("RISTAPO_LINE_DATA_API_BASE", line_api.base_url)
    monkeypatch.setenv("RISTAPO_RUN_WORKERS", "0")
    get_settings.cache_clear()
    app = create_app(get_settings())
    app.state.line_adapter.timeout = 0.5  # the fake's "slow" answers take longer than this
    loop = asyncio.new_event_loop()
    env = LineEnv(app=app, client=TestClient(app), fake=line_api, loop=loop)
    yield env
    loop.run_until_complete(app.state.line_adapter.aclose())
    loop.close()
    pipeline.unregister_adapter("line")
    get_settings.cache_clear()
