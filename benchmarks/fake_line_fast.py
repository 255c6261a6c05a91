"""A lean fake LINE Messaging API for the benchmarks, in its own process (asyncio + aiohttp).

Why not ``tests/fakes/line_api.FakeLineApi``: that one runs in the benchmark's own process, a
thread per request, recording every request; under load it competes for the benchmark's GIL
with the load generator and its CPU lands on the same two cores as the system under test.
This one answers what the benchmarks need and nothing more, on one event loop (uvloop when
installed) in a child process, so its cost shows up separately in the CPU breakdown:

* 200 to reply, push and loading-animation calls (and to anything else, with ``{}``);
* 409 to a push whose ``X-Line-Retry-Key`` was already accepted, like LINE;
* an optional delay before every answer (the burst step sleeps 5 s);
* counts of accepted deliveries (replies + pushes with a new key) and of requests per path.

The parent drives it through :class:`LeanFakeLineApi`, which talks to control endpoints under
``/_fake/`` on the same server: ``stats``, ``reset``, ``delay?seconds=``, and
``wait?accepted=N&timeout=T`` (a long poll, so waiting for the backlog costs no polling).
:class:`ThreadedFake` gives the old in-process fake the same interface (``--fake threaded``).

Run alone: ``.venv/bin/python benchmarks/fake_line_fast.py`` prints its port and serves.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

PUSH = "/v2/bot/message/push"
REPLY = "/v2/bot/message/reply"
LOADING = "/v2/bot/chat/loading/start"
RICHMENU = "/v2/bot/richmenu"

_JSON = "application/json"
_CONFLICT = json.dumps({"message": "The retry key is already accepted", "sentMessages": [{"id": "1", "quoteToken": "q"}]}).encode()


class _State:
    """What the fake process knows; touched only from its one event loop (no locks)."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.accepted = 0
        self.conflicts = 0
        self.by_path: Counter[str] = Counter()
        self.keys: set[str] = set()
        self.waiters: list[tuple[int, asyncio.Future]] = []
        self._sent: dict[int, bytes] = {}

    def reset(self) -> None:
        self.accepted = 0
        self.conflicts = 0
        self.by_path.clear()
        self.keys.clear()

    def stats(self) -> dict:
        return {"accepted": self.accepted, "requests": sum(self.by_path.values()), "loading": self.by_path[LOADING],
                "conflicts": self.conflicts, "by_path": dict(self.by_path), "delay": self.delay}

    def sent_messages(self, n: int) -> bytes:
        """The 200 body for ``n`` messages, built once per ``n``."""
        body = self._sent.get(n)
        if body is None:
            body = json.dumps({"sentMessages": [{"id": str(1000 + i), "quoteToken": "q"} for i in range(n)]} if n else {}).encode()
            self._sent[n] = body
        return body

    def count_accepted(self) -> None:
        self.accepted += 1
        if self.waiters:
            still = []
            for target, fut in self.waiters:
                if self.accepted >= target:
                    if not fut.done():
                        fut.set_result(True)
                else:
                    still.append((target, fut))
            self.waiters = still


async def _serve(sock: socket.socket) -> None:
    from aiohttp import web

    state = _State()

    async def control(request: web.BaseRequest) -> web.StreamResponse:
        what = request.path[len("/_fake/"):]
        if what == "reset":
            state.reset()
        elif what == "delay":
            state.delay = float(request.query["seconds"])
        elif what == "wait":
            target, timeout = int(request.query["accepted"]), float(request.query["timeout"])
            if state.accepted < target:
                fut = asyncio.get_running_loop().create_future()
                state.waiters.append((target, fut))
                try:
                    await asyncio.wait_for(fut, timeout)
                except TimeoutError:
                    state.waiters = [w for w in state.waiters if w[1] is not fut]
        elif what != "stats":
            return web.Response(status=404)
        return web.Response(body=json.dumps(state.stats()).encode(), content_type=_JSON)

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_fake/"):
            return await control(request)
        raw = await request.read()
        state.by_path[path] += 1
        status, body = 200, b"{}"
        if path in (REPLY, PUSH):
            key = request.headers.get("X-Line-Retry-Key")
            if path == PUSH and key and key in state.keys:
                status, body = 409, _CONFLICT  # like LINE: a retry key is accepted once
                state.conflicts += 1
            else:
                if key:
                    state.keys.add(key)
                state.count_accepted()
                try:
                    n = len(json.loads(raw).get("messages") or ())
                except (ValueError, AttributeError):
                    n = 0
                body = state.sent_messages(n)
        elif path == RICHMENU and request.method == "POST":
            body = b'{"richMenuId": "richmenu-fake-1"}'
        # why after counting: like FakeLineApi, a delivery counts when it arrives, the delay
        # only holds the caller's connection (a slow LINE)
        if state.delay:
            await asyncio.sleep(state.delay)
        return web.Response(status=status, body=body, content_type=_JSON)

    server = web.Server(handle, access_log=None)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(server, sock=sock, backlog=1024)
    print(sock.getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


def main() -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    try:
        import uvloop

        uvloop.run(_serve(sock))
    except ImportError:
        asyncio.run(_serve(sock))


class LeanFakeLineApi:
    """The parent's handle on the fake process: start, query, reset, stop."""

    kind = "lean"

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> LeanFakeLineApi:
        self._proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline()
        if not line.strip().isdigit():
            self._proc.kill()
            raise SystemExit("the lean fake LINE API did not start")
        self.port = int(line)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _control(self, what: str, http_timeout: float = 10.0, **query) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=http_timeout)
        try:
            conn.request("POST", f"/_fake/{what}" + (f"?{urlencode(query)}" if query else ""))
            resp = conn.getresponse()
            return json.loads(resp.read())
        finally:
            conn.close()

    def stats(self) -> dict:
        return self._control("stats")

    def accepted_count(self) -> int:
        return self._control("stats")["accepted"]

    def loading_calls(self) -> int:
        return self._control("stats")["loading"]

    def set_delay(self, seconds: float) -> None:
        self._control("delay", seconds=seconds)

    def traffic(self) -> str:
        """What reached the fake since the last reset, e.g. ``reply 1500, loading 34, 409s 0``."""
        return _traffic(self.stats())

    def reset(self) -> None:
        self._control("reset")

    def wait_accepted(self, n: int, timeout: float) -> bool:
        """Blocks until ``n`` deliveries were accepted since the last reset (False on timeout)."""
        return self._control("wait", http_timeout=timeout + 10, accepted=n, timeout=timeout)["accepted"] >= n


class ThreadedFake:
    """``tests/fakes/line_api.FakeLineApi`` (in this process, a thread per request) behind the same interface."""

    kind = "threaded"
    pid = None  # its CPU is this process's

    def __init__(self) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes.line_api import FakeLineApi

        self.fake = FakeLineApi()

    def start(self) -> ThreadedFake:
        self.fake.start()
        return self

    def stop(self) -> None:
        self.fake.stop()

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def accepted_count(self) -> int:
        return len(self.fake.accepted)

    def loading_calls(self) -> int:
        return sum(1 for r in self.fake.requests if r.path == LOADING)

    def set_delay(self, seconds: float) -> None:
        self.fake.default_delay = seconds

    def traffic(self) -> str:
        by_path = Counter(r.path for r in self.fake.requests)
        return _traffic({"by_path": by_path, "conflicts": sum(1 for r in self.fake.requests if r.status == 409)})

    def reset(self) -> None:
        self.fake.reset()

    def wait_accepted(self, n: int, timeout: float) -> bool:
        return self.fake.wait_for(lambda f: len(f.accepted) >= n, timeout=timeout)


def _traffic(stats: dict) -> str:
    names = {REPLY: "reply", PUSH: "push", LOADING: "loading"}
    parts = [f"{names.get(path, path)} {n}" for path, n in sorted(stats["by_path"].items(), key=lambda kv: -kv[1])]
    return ", ".join(parts + [f"409s {stats['conflicts']}"])


def start_fake(kind: str) -> LeanFakeLineApi | ThreadedFake:
    """``lean`` (default: a child process) or ``threaded`` (the test suite's fake, in this process)."""
    return (ThreadedFake() if kind == "threaded" else LeanFakeLineApi()).start()


if __name__ == "__main__":
    main()
