"""Console load mixed with a webhook stream (a measurement, not a test):
``.venv/bin/python benchmarks/console_mix.py``.

One ``ristapo serve`` on SQLite (workers inside), loopback only. ``--users`` signed-in
console users (default 100) each open their own connection and loop over the pages staff
use (inbox, the inbox rows refresh, the queue API, one conversation) with ``--think``
seconds between requests (0 = as fast as the server answers), while a steady stream of
signed LINE webhooks (``--rate`` per second) arrives. Bounded: ``--seconds`` of load.

Prints webhook p50/p99/max (request → 200), console requests served and their p50/p99, and
the number of 5xx answers of each kind (the 503 of the staff-side admission gate counts).
Why it exists: issue 16.1 — about 16 concurrent console requests used to freeze the process;
the target is webhook p99 ≤ 100 ms and no 5xx with 100 console users.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from benchmarks import loadgen  # noqa: E402
from benchmarks.fake_line_fast import start_fake  # noqa: E402
from benchmarks.load import SECRET, _env, _free_port, _pct, _spawn, _wait_healthy  # noqa: E402

PAGES = ["/console/inbox", "/console/inbox/rows?view=waiting", "/admin/api/tickets", "/console/inbox?view=open"]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    sent_at: list[float] = field(default_factory=list)  # wall clock, for --probe

    def add(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(seconds)
        self.sent_at.append(time.time() - seconds)

    @property
    def five_xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)


def _prepare(env: dict, users: int) -> list[str]:
    """Creates the schema, ``users`` staff accounts and one session each; returns the tokens."""
    os.environ.update(env)
    from admin.auth import do_create_session
    from admin.models import SessionStage, StaffUser
    from bot.startup import prepare
    from core import db
    from core.settings import get_settings

    get_settings.cache_clear()
    prepare(get_settings())
    tokens = []
    with db.session_scope() as s:
        for i in range(users):
            user = StaffUser(username=f"bench-{i}", display_name=f"Bench {i}", roles="staff", password_hash="x", must_change_password=False, totp_secret="JBSWY3DPEHPK3PXP")
            s.add(user)
            s.flush()
            tokens.append(do_create_session(s, user, stage=SessionStage.full, ip="127.0.0.1"))
    db.engine().dispose()
    return tokens


async def _console_user(base: str, token: str, n: int, until: float, think: float, tally: Tally) -> None:
    from admin.auth import SESSION_COOKIE

    # why one connection per user: 100 open consoles are 100 browsers
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=60),
                                     headers={"Cookie": f"{SESSION_COOKIE}={token}"}) as client:
        i = n
        while time.monotonic() < until:
            t = time.perf_counter()
            try:
                async with client.get(base + PAGES[i % len(PAGES)], allow_redirects=False) as r:
                    await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError):
                status = 599
            tally.add(status, time.perf_counter() - t)
            i += 1
            if think:
                await asyncio.sleep(think)


async def _webhooks(base: str, rate: float, until: float, tally: Tally) -> None:
    bodies = loadgen.signed_events(int(rate * (until - time.monotonic())) + 10, 50, "mix", SECRET)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50), timeout=aiohttp.ClientTimeout(total=60)) as client:

        async def one(req) -> None:
            t = time.perf_counter()
            try:
                async with client.post(base + "/webhooks/line", data=req.body, headers=req.headers) as r:
                    await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError):
                status = 599
            tally.add(status, time.perf_counter() - t)

        tasks = []
        start = time.monotonic()
        for k, req in enumerate(bodies):
            at = start + k / rate
            if at >= until:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            tasks.append(asyncio.create_task(one(req)))
        await asyncio.gather(*tasks)


async def _run(base: str, tokens: list[str], seconds: float, think: float, rate: float) -> tuple[Tally, Tally]:
    console, hooks = Tally(), Tally()
    until = time.monotonic() + seconds
    await asyncio.gather(_webhooks(base, rate, until, hooks), *(_console_user(base, tok, n, until, think, console) for n, tok in enumerate(tokens)))
    return console, hooks


def _ms(values: list[float], p: float) -> str:
    return f"{_pct(values, p) * 1000:.0f}"


def _loadavg() -> str:
    # why printed with every run: the machine is shared, and other jobs set the p99's floor
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--think", type=float, default=0.5, help="seconds between one user's requests (0 = none)")
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second")
    parser.add_argument("--set", action="append", default=[], metavar="RISTAPO_X=V", help="an extra setting for the server")
    parser.add_argument("--probe", default=None, metavar="PREFIX", help="run the server under benchmarks/tail_probe.py; write PREFIX.server.json and PREFIX.client.json")
    args = parser.parse_args()
    load_before = _loadavg()
    fake = start_fake("lean")
    data_dir = tempfile.mkdtemp(prefix="ristapo-mix-")
    env = _env(data_dir, f"sqlite:///{data_dir}/mix.db", fake, run_workers=True)
    env.update(dict(kv.split("=", 1) for kv in args.set))
    tokens = _prepare(env, args.users)
    port = _free_port()
    if args.probe:
        env["PROBE_OUT"] = os.path.abspath(args.probe + ".server.json")
        log = open(args.probe + ".server.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.tail_probe", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    else:
        proc = _spawn(["serve", "--port", str(port)], env)
    try:
        _wait_healthy(port, proc)
        base = f"http://127.0.0.1:{port}"
        loadgen.run(_run(base, tokens[:5], 2.0, 0.2, 5.0))  # warm-up: templates, the understanding
        console, hooks = loadgen.run(_run(base, tokens, args.seconds, args.think, args.rate))
    finally:
        proc.terminate()
        proc.wait(30)
        fake.stop()
    if args.probe:
        with open(args.probe + ".client.json", "w") as f:
            json.dump({"hooks": list(zip(hooks.sent_at, hooks.latencies, strict=True)), "console": list(zip(console.sent_at, console.latencies, strict=True))}, f)
    print(f"{args.users} console users (think {args.think}s), {args.rate:g} webhooks/s, {args.seconds:g}s, 1 serve on SQLite; "
          f"/proc/loadavg before: {load_before} after: {_loadavg()}")
    print(f"  webhooks: {len(hooks.latencies)} sent, p50 {_ms(hooks.latencies, 50)} ms, p99 {_ms(hooks.latencies, 99)} ms, "
          f"max {max(hooks.latencies) * 1000:.0f} ms, 5xx {hooks.five_xx}, statuses {hooks.statuses}")
    print(f"  console:  {len(console.latencies)} requests ({len(console.latencies) / args.seconds:.0f}/s), p50 {_ms(console.latencies, 50)} ms, "
          f"p99 {_ms(console.latencies, 99)} ms, 5xx {console.five_xx}, statuses {console.statuses}")


if __name__ == "__main__":
    main()
