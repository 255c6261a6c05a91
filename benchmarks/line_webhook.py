"""LINE webhook benchmark (a measurement, not a test): ``.venv/bin/python benchmarks/line_webhook.py``.

1. Burst: 200 signed webhook events at once while the fake LINE API sleeps 5 s on every call
   → p50/p99 of the webhook's response time (target p99 ≤ 50 ms; LINE's limit is 2 s).
2. Sustained: the fake answers at once; N events are sent as fast as the server takes them
   → events fully processed per second, from the first request to the last reply accepted by
   the fake (target ≥ 300/s on SQLite).

The server is a real ``ristapo serve`` subprocess (workers inside, SQLite in a temp dir). The
load generator runs in this process (bodies signed before the clock starts; the burst over raw asyncio
connections, the sustained step over aiohttp keep-alive:
``benchmarks/loadgen.py``); the fake LINE API runs in its own asyncio process
(``benchmarks/fake_line_fast.py``). Both steps print where the CPU went (harness, server,
other load on the machine) from ``/proc``. Options: ``--events N``, ``--concurrency C``,
``--burst-concurrency B``, ``--inbox-workers W`` (extra worker processes), ``--runs N`` (default
3: each run a fresh server; median and min–max printed at the end), ``--fake threaded``
(the test suite's in-process ``FakeLineApi``, for comparison; it answers a keep-alive request
only after ≈ 44 ms, a Nagle/delayed-ACK stall, so end-to-end figures with it are lower).

Figures on the 2-core development VM (2026-11-25, otherwise idle):

                                 before (e4e0128)   hot-path work (c10d939)   fourth round (this)
  burst, 200 at once, p99:       164 ms             87 ms (aiohttp client)    32–50 ms over six runs (raw client)
  sustained end to end:          ~67 events/s       ~147 events/s             412–458 events/s (one process)

A do-nothing ASGI server answers the raw client's burst in ≈ 13 ms here (the aiohttp client
alone took 35–55 ms). Per event now: engine turn ≈ 1.15 ms (batched), delivery ≈ 0.5 ms,
webhook ≈ 0.2 ms (see benchmarks/pipeline_turns.py and docs/performance.md).
"""
from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks import loadgen  # noqa: E402
from benchmarks.cpu_meter import CpuMeter  # noqa: E402
from benchmarks.fake_line_fast import start_fake  # noqa: E402
from benchmarks.runs import Figures, LoadSampler, add_runs_argument, header  # noqa: E402

SECRET = "bench-channel-secret"
KEY = os.urandom(32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def bench_env(data_dir: str, fake) -> dict:
    env = dict(os.environ)
    env.update(
        RISTAPO_ENV="dev",
        RISTAPO_DATA_DIR=data_dir,
        RISTAPO_DATABASE_URL=f"sqlite:///{data_dir}/bench.db",
        RISTAPO_DATA_KEY="b1:" + base64.b64encode(KEY).decode(),
        RISTAPO_ID_PEPPER="bench-pepper",
        RISTAPO_LINE_CHANNEL_SECRET=SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN="bench-token",
        RISTAPO_LINE_API_BASE=fake.base_url,
        RISTAPO_LINE_DATA_API_BASE=fake.base_url,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    return env


def start_server(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("ristapo serve did not start")


def _meter(fake, proc, extra) -> CpuMeter:
    """CPU of every process in the run, harness and system under test apart."""
    meter = CpuMeter()
    meter.add(f"harness: generator{' + fake' if fake.pid is None else ''} (this process)", os.getpid())
    meter.add("harness: fake LINE API process", fake.pid)
    meter.add("ristapo serve", proc.pid)
    for p in extra:
        meter.add("ristapo worker --inbox", p.pid)
    return meter


def _burst(args, fake, url: str, meter: CpuMeter, figures: Figures) -> None:
    """1. A burst while LINE is slow: every webhook must still answer 200 quickly."""
    fake.set_delay(5.0)
    reqs = loadgen.signed_events(args.burst, args.burst, "b", SECRET)
    sampler = LoadSampler()
    with sampler:
        cpu0 = meter.snapshot()
        t0 = time.perf_counter()
        if args.burst_client == "raw" and args.burst_concurrency >= args.burst:
            out = loadgen.run(loadgen.burst(url, reqs))
        else:
            out = loadgen.run(loadgen.closed_loop(url, reqs, args.burst_concurrency))
        burst_s = time.perf_counter() - t0
        cpu1 = meter.snapshot()
    if out.ok != args.burst:
        raise SystemExit(f"burst: only {out.ok}/{args.burst} webhooks answered 200")
    lat = [1000 * x for x in out.latencies]
    print(f"burst: {args.burst} events ({args.burst_concurrency} in flight, {args.burst_client} client), all 200, "
          f"in {burst_s:.2f} s while the fake LINE API sleeps 5 s per call ({args.fake} fake)")
    print(f"  webhook response time p50 {statistics.median(lat):.1f} ms  p99 {_pct(lat, 99):.1f} ms  max {max(lat):.1f} ms")
    print(meter.report(cpu0, cpu1, args.burst, unit="webhook, while the burst's requests were in flight"))
    print(f"  {sampler.line()}")
    figures.add("burst webhook p50 (ms)", statistics.median(lat))
    figures.add("burst webhook p99 (ms)", _pct(lat, 99))
    figures.add("burst webhook max (ms)", max(lat))
    fake.set_delay(0.0)
    if not fake.wait_accepted(args.burst, timeout=120):
        print(f"  (burst backlog not drained: {fake.accepted_count()}/{args.burst} replies accepted)")
    print(f"  every burst event processed and its reply taken by the fake {time.perf_counter() - t0:.1f} s after the first request")
    print(f"  requests the fake LINE API got: {fake.traffic()}")
    fake.reset()


def _sustained(args, fake, url: str, meter: CpuMeter, figures: Figures) -> None:
    """2. Sustained throughput with a fast LINE."""
    reqs = loadgen.signed_events(args.events, args.users, "s", SECRET)
    sampler = LoadSampler()
    with sampler:
        cpu0 = meter.snapshot()
        t0 = time.perf_counter()
        out = loadgen.run(loadgen.closed_loop(url, reqs, args.concurrency))
        ingest_s = time.perf_counter() - t0
        done = fake.wait_accepted(args.events, timeout=300)
        total_s = time.perf_counter() - t0
        cpu1 = meter.snapshot()
    got = fake.accepted_count()
    lat = [1000 * x for x in out.latencies]
    print(f"sustained: {args.events} events from {args.users} users, {args.concurrency} webhook requests in flight, "
          f"SQLite, workers inside serve{f' + {args.inbox_workers} inbox worker process(es)' if args.inbox_workers else ''}")
    print(f"  ingest {args.events / ingest_s:.0f} webhooks/s (p50 {statistics.median(lat):.1f} ms, p99 {_pct(lat, 99):.1f} ms)"
          f"{'' if out.ok == args.events else f'  [{args.events - out.ok} not answered 200]'}")
    print(f"  processed end to end (received → reply accepted by the fake): {got / total_s:.0f} events/s "
          f"({got}/{args.events} in {total_s:.1f} s){'' if done else '  [timed out]'}")
    print(f"  requests the fake LINE API got during the run: {fake.traffic()}")
    print(meter.report(cpu0, cpu1, got))
    print(f"  {sampler.line()}")
    figures.add("sustained ingest (webhooks/s)", args.events / ingest_s, ".0f")
    figures.add("sustained end to end (events/s)", got / total_s, ".0f")
    per = meter.per_event(cpu0, cpu1, got)
    figures.add("sustained CPU, system under test (ms/event)", per["system"], ".2f")
    figures.add("sustained CPU, harness (ms/event)", per["harness"], ".2f")


def one_run(args, fake, figures: Figures) -> None:
    """One fresh server (new temp dir): the burst, then the sustained step; figures appended."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/webhooks/line"
    with tempfile.TemporaryDirectory(prefix="ristapo-bench-") as data_dir:
        env = bench_env(data_dir, fake)
        proc = start_server(env, port)
        extra = [
            subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--inbox"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.inbox_workers)
        ]
        try:
            loadgen.run(loadgen.closed_loop(url, loadgen.signed_events(5, 5, "warm", SECRET), 5))  # warm up (imports, first queries)
            fake.wait_accepted(5, timeout=30)
            fake.reset()

            meter = _meter(fake, proc, extra)

            # 1. burst while LINE is slow
            _burst(args, fake, url, meter, figures)

            # 2. sustained throughput with a fast LINE
            _sustained(args, fake, url, meter, figures)
        finally:
            for p in extra:
                p.terminate()
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--events", type=int, default=1500)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--burst-concurrency", type=int, default=200, help="burst requests in flight (200 = all at once)")
    ap.add_argument("--burst-client", choices=["raw", "aiohttp"], default="raw",
                    help="burst client: raw asyncio streams, one new connection per request, bytes built beforehand "
                         "(≈ 13 ms p99 for 200 against a do-nothing server here), or aiohttp (≈ 35–55 ms)")
    ap.add_argument("--inbox-workers", type=int, default=0, help="extra `ristapo worker --inbox` processes")
    ap.add_argument("--fake", choices=["lean", "threaded"], default="lean",
                    help="fake LINE API: lean (own process, asyncio) or threaded (tests' FakeLineApi in this process)")
    add_runs_argument(ap)
    args = ap.parse_args(argv)

    print(header("line_webhook.py", args.runs), flush=True)
    fake = start_fake(args.fake)
    figures = Figures()
    try:
        for run in range(1, args.runs + 1):
            print(f"\n— run {run}/{args.runs} (fresh server, SQLite) —", flush=True)
            one_run(args, fake, figures)
    finally:
        fake.stop()
    print()
    print(figures.report(f"summary over {args.runs} run(s): median (min–max)"))
    print(header("line_webhook.py", args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
