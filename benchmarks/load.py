"""Load benchmark (a measurement, not a test): ``.venv/bin/python benchmarks/load.py``.

Signed LINE webhooks at increasing rates, on loopback only, against

* 1 ``ristapo serve`` on SQLite (workers inside the server), and
* 1, 2 and 4 ``ristapo serve`` processes on PostgreSQL (``RISTAPO_RUN_WORKERS=0``) plus
  ``--workers`` separate ``ristapo worker`` processes; the client spreads requests over the
  servers round-robin (what a load balancer does).

For each offered rate it prints webhook p50/p99 (request → 200), the events per second
*fully processed* (stored, turned by the engine, reply accepted by the fake LINE API) and where
the CPU went per processed event (harness, each ristapo process, PostgreSQL, other load); per
configuration the knee: the highest rate still processed in full without a growing backlog.

The harness shares the cores with the system under test, so it is kept lean: the fake LINE
API runs in its own asyncio process (``benchmarks/fake_line_fast.py``; ``--fake threaded``
uses the test suite's in-process fake instead), and the load generator sends pre-signed
bodies over aiohttp keep-alive connections (``benchmarks/loadgen.py``). Each configuration
gets a few warm-up events before its first step.

PostgreSQL: a throwaway cluster from ``scripts/pg-test-cluster.sh`` (as root it installs
PostgreSQL when missing), or ``--pg-url postgresql+psycopg://...`` of an empty database you
own. Bounded in time: ``--step-seconds`` per rate, a configuration stops at its knee.
``--runs N`` (default 3) runs each configuration N times on a fresh database and prints the
median and min–max of every figure, the load average before and during each run, and the commit
(``benchmarks/runs.py``).
"""
from __future__ import annotations

import argparse
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks import loadgen  # noqa: E402
from benchmarks.cpu_meter import CpuMeter, postmaster_pid  # noqa: E402
from benchmarks.fake_line_fast import start_fake  # noqa: E402
from benchmarks.runs import Figures, LoadSampler, add_runs_argument, header  # noqa: E402

SECRET = "bench-channel-secret"
KEY = "b1:" + base64.b64encode(os.urandom(32)).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _env(data_dir: str, db_url: str, fake, *, run_workers: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISTAPO_")}
    env.update(
        RISTAPO_ENV="dev",
        RISTAPO_DATA_DIR=data_dir,
        RISTAPO_DATABASE_URL=db_url,
        RISTAPO_DATA_KEY=KEY,
        RISTAPO_ID_PEPPER="bench-pepper",
        RISTAPO_LINE_CHANNEL_SECRET=SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN="bench-token",
        RISTAPO_LINE_API_BASE=fake.base_url,
        RISTAPO_LINE_DATA_API_BASE=fake.base_url,
        RISTAPO_RUN_WORKERS="1" if run_workers else "0",
        RISTAPO_WORKER_POLL_SECONDS="0.2",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    return env


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_healthy(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ristapo serve on port {port} exited (status {proc.returncode})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"ristapo serve on port {port} did not come up")


@dataclass
class Step:
    rate: int
    sent: int = 0
    ok: int = 0
    latencies: list[float] = field(default_factory=list)
    processed_per_s: float = 0.0
    drained: bool = False
    processed: int = 0
    cpu: str = ""
    cpu_per_event: dict = field(default_factory=dict)
    xacts_per_event: float | None = None  # PostgreSQL: committed + rolled-back transactions per processed event


@dataclass
class Cluster:
    """The server and worker processes of one configuration."""

    name: str
    ports: list[int]
    procs: list[subprocess.Popen]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def start_cluster(name: str, db_url: str, fake, *, servers: int, workers: int) -> Cluster:
    data_dir = tempfile.mkdtemp(prefix=f"ristapo-load-{name}-")
    sqlite = db_url.startswith("sqlite")
    env = _env(data_dir, db_url, fake, run_workers=sqlite)
    if not sqlite:
        from core import migrate

        if migrate.heads():
            subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    procs, ports = [], []
    for _ in range(servers):
        port = _free_port()
        proc = _spawn(["serve", "--port", str(port)], env)
        try:
            _wait_healthy(port, proc)  # one after the other: the first one migrates a dev SQLite file
        except SystemExit:
            Cluster(name, ports, [*procs, proc]).stop()  # why: a failed start must not leave servers behind
            raise
        procs.append(proc)
        ports.append(port)
    for _ in range(0 if sqlite else workers):
        procs.append(_spawn(["worker"], env))
    return Cluster(name, ports, procs)


def warm_up(cluster: Cluster, fake) -> None:
    """A few events first, so the first step does not measure imports and cold caches."""
    fake.reset()
    urls = [f"http://127.0.0.1:{p}/webhooks/line" for p in cluster.ports]
    loadgen.run(loadgen.open_loop(urls, loadgen.signed_events(5 * len(urls), 5, "-warm-", SECRET), rate=50))
    fake.wait_accepted(5 * len(urls), timeout=30)


def pg_xacts(url: str | None) -> int | None:
    """Transactions of the benchmark's database so far (``pg_stat_database``; None on SQLite).

    Why: per-transaction work (claim, commit, NOTIFY) is what batching saves; counted here it does
    not depend on how busy the machine is, unlike CPU time. The statistics are flushed by each
    backend at its transaction ends, so a figure may lag by a few hundred milliseconds.
    """
    if not url or url.startswith("sqlite"):
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(conn.execute(text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )).scalar_one())
    finally:
        engine.dispose()


def idle_latency(cluster: Cluster, fake, n: int, users: int) -> list[float]:
    """Seconds from sending a lone event to its reply accepted by the fake, for ``n`` events 0.5 s apart.

    Why apart: each finds the workers idle (nothing pending, no recent work), the case where a
    worker must not wait to gather a batch.
    """
    urls = [f"http://127.0.0.1:{p}/webhooks/line" for p in cluster.ports]
    fake.reset()
    out = []
    for i in range(n):
        reqs = loadgen.signed_events(1, users, f"-idle-{i}-", SECRET)
        time.sleep(0.5)
        start = time.perf_counter()
        loadgen.run(loadgen.open_loop([urls[i % len(urls)]], reqs, rate=1000))
        if fake.wait_accepted(i + 1, timeout=10):
            out.append(time.perf_counter() - start)
    return out


def run_step(cluster: Cluster, fake, rate: int, seconds: float, users: int, drain_seconds: float, meter: CpuMeter, db_url: str | None = None) -> Step:
    step = Step(rate)
    total = int(rate * seconds)
    urls = [f"http://127.0.0.1:{p}/webhooks/line" for p in cluster.ports]
    reqs = loadgen.signed_events(total, users, f"-load-{rate}-", SECRET)  # before the clock starts
    fake.reset()
    xacts0 = pg_xacts(db_url)
    cpu0 = meter.snapshot()
    start = time.perf_counter()
    out = loadgen.run(loadgen.open_loop(urls, reqs, rate))
    step.sent, step.ok, step.latencies = total, out.ok, out.latencies
    # processed = replies accepted by the fake; wait for the backlog to drain (bounded)
    last = time.perf_counter() if fake.wait_accepted(step.ok, timeout=drain_seconds) else None
    done = fake.accepted_count()
    end = last or time.perf_counter()
    step.processed_per_s = done / (end - start)
    step.processed = done
    cpu1 = meter.snapshot()
    step.cpu = meter.report(cpu0, cpu1, done, indent="    ")
    step.cpu_per_event = meter.per_event(cpu0, cpu1, done)
    xacts1 = pg_xacts(db_url)
    if xacts0 is not None and xacts1 is not None and done:
        step.xacts_per_event = (xacts1 - xacts0) / done
    # why 1.5 s: a system that keeps up finishes within moments of the last request
    step.drained = last is not None and (last - start) <= seconds + 1.5 and done >= step.ok == total
    return step


def print_step(name: str, s: Step) -> None:
    print(
        f"  {name:<14} offered {s.rate:>5}/s  sent {s.sent:>5}  200s {s.ok:>5}  "
        f"webhook p50 {1000 * _pct(s.latencies, 50):7.1f} ms  p99 {1000 * _pct(s.latencies, 99):7.1f} ms  "
        f"processed {s.processed_per_s:7.1f}/s  {'keeps up' if s.drained else 'BEHIND'}",
        flush=True,
    )
    print(s.cpu, flush=True)
    if s.xacts_per_event is not None:
        print(f"    PostgreSQL transactions per processed event: {s.xacts_per_event:.2f}", flush=True)


def pg_cluster() -> tuple[str | None, dict]:
    out = subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-cluster.sh"), "start"], capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return env.get("RISTAPO_TEST_POSTGRES_URL"), env


def reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="50,100,200,400,800", help="offered events/s, in order")
    ap.add_argument("--step-seconds", type=float, default=6.0)
    ap.add_argument("--drain-seconds", type=float, default=10.0)
    ap.add_argument("--users", type=int, default=300, help="distinct LINE users (per-user order is kept)")
    ap.add_argument("--workers", type=int, default=2, help="ristapo worker processes in the PostgreSQL configurations")
    ap.add_argument("--configs", default="sqlite-1,pg-1,pg-2,pg-4")
    ap.add_argument("--pg-url", default=None, help="an empty PostgreSQL database (default: a throwaway cluster)")
    ap.add_argument("--fake", choices=["lean", "threaded"], default="lean",
                    help="fake LINE API: lean (own process, asyncio) or threaded (tests' FakeLineApi in this process)")
    ap.add_argument("--idle-events", type=int, default=0,
                    help="before the rates: N lone events, 0.5 s apart, timed from request to reply accepted (idle latency)")
    add_runs_argument(ap)
    args = ap.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]

    print(header("load.py", args.runs), flush=True)
    fake = start_fake(args.fake)
    pg_url, pg_env = (args.pg_url, {}) if args.pg_url else (None, {})
    wanted = args.configs.split(",")
    if any(c.startswith("pg") for c in wanted) and pg_url is None:
        pg_url, pg_env = pg_cluster()
        if pg_url is None:
            print("PostgreSQL unavailable (pg-test-cluster.sh printed nothing): PostgreSQL configurations skipped")
    print(f"ristapo load benchmark: {os.cpu_count()} CPUs, rates {rates}/s, {args.step_seconds:.0f} s per rate, loopback only, {args.fake} fake LINE API")
    summary = []
    try:
        for config in wanted:
            kind, _, n = config.partition("-")
            if kind == "pg" and pg_url is None:
                continue
            label = f"{config} ({n} serve{'' if kind == 'sqlite' else f' + {args.workers} workers'})"
            figures = Figures()
            for run in range(1, args.runs + 1):
                print(f"\n{label}, run {run}/{args.runs}", flush=True)
                try:
                    run_config(config, kind, int(n or 1), args, rates, fake, pg_url, pg_env, figures)
                except SystemExit as exc:
                    # why go on: on a shared machine one slow start-up must not throw away the
                    # other runs; the failed run is reported and counts in no figure
                    print(f"  run {run} failed: {exc}", flush=True)
                    figures.add("failed runs", 1, ".0f")
            summary.append(figures.report(f"  {label}: median (min–max) over {args.runs} run(s)", indent="    "))
    finally:
        fake.stop()
        if pg_env:
            subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-cluster.sh"), "stop"], env={**os.environ, **pg_env}, capture_output=True)
    print("\nsummary (knee = highest offered rate fully processed without a growing backlog; "
          "a rate a run never reached is missing from its n)")
    print("\n".join(summary))
    print(header("load.py", args.runs))
    return 0


def _meter(cluster: Cluster, fake, kind: str, pg_env: dict) -> CpuMeter:
    meter = CpuMeter()
    meter.add(f"harness: generator{' + fake' if fake.pid is None else ''} (this process)", os.getpid())
    meter.add("harness: fake LINE API process", fake.pid)
    for port, proc in zip(cluster.ports, cluster.procs[: len(cluster.ports)], strict=True):
        meter.add(f"ristapo serve :{port}", proc.pid)
    for proc in cluster.procs[len(cluster.ports):]:
        meter.add("ristapo worker (all)", proc.pid)
    if kind == "pg" and pg_env.get("RISTAPO_PG_TEST_DIR"):
        meter.add("postgres (postmaster + backends)", postmaster_pid(Path(pg_env["RISTAPO_PG_TEST_DIR"]) / "data"))
    return meter


def run_config(config: str, kind: str, servers: int, args, rates: list[int], fake, pg_url, pg_env, figures: Figures) -> None:
    """One run of one configuration on a fresh database: warm-up, then the rates up to the knee."""
    if kind == "pg":
        reset_pg(pg_url)
        db_url = pg_url
    else:
        db_url = f"sqlite:///{tempfile.mkdtemp(prefix='ristapo-load-sqlite-')}/load.db"
    cluster = start_cluster(config, db_url, fake, servers=servers, workers=args.workers)
    knee = None
    below: list[Step] = []
    steps: list[Step] = []
    sampler = LoadSampler()
    try:  # why from here: whatever fails, no server or worker is left running
        meter = _meter(cluster, fake, kind, pg_env)
        warm_up(cluster, fake)
        if args.idle_events:
            lat = idle_latency(cluster, fake, args.idle_events, args.users)
            print(f"  {config:<14} idle: {len(lat)}/{args.idle_events} lone events replied; webhook → reply "
                  f"p50 {1000 * _pct(lat, 50):6.1f} ms  p99 {1000 * _pct(lat, 99):6.1f} ms  max {1000 * max(lat, default=float('nan')):6.1f} ms", flush=True)
            figures.add("idle: webhook → reply p50 ms", 1000 * _pct(lat, 50))
            figures.add("idle: webhook → reply max ms", 1000 * max(lat, default=float("nan")))
        with sampler:
            for rate in rates:
                step = run_step(cluster, fake, rate, args.step_seconds, args.users, args.drain_seconds, meter, db_url)
                print_step(config, step)
                steps.append(step)
                figures.add(f"{rate:>5}/s offered: processed/s", step.processed_per_s)
                figures.add(f"{rate:>5}/s offered: webhook p99 ms", 1000 * _pct(step.latencies, 99))
                figures.add(f"{rate:>5}/s offered: CPU system under test ms/ev", step.cpu_per_event["system"], ".2f")
                if step.xacts_per_event is not None:
                    figures.add(f"{rate:>5}/s offered: PostgreSQL transactions/ev", step.xacts_per_event, ".2f")
                if not step.drained:
                    break
                knee = step
                below.append(step)
    finally:
        cluster.stop()
    print(f"  {sampler.line()}", flush=True)
    if knee:
        p99 = max(_pct(s.latencies, 99) for s in below)
        print(f"  knee ≈ {knee.rate}/s  sustained {knee.processed_per_s:6.1f} events/s  worst webhook p99 below the knee {1000 * p99:6.1f} ms")
        figures.add("knee (offered/s)", knee.rate, ".0f")
        figures.add("processed/s at the knee", knee.processed_per_s)
        figures.add("worst webhook p99 below the knee ms", 1000 * p99)
    else:
        print(f"  behind already at {rates[0]}/s")
        figures.add("knee (offered/s)", 0, ".0f")
    # why the highest processed rate as well: a run that falls behind still says what it managed
    figures.add("highest processed/s in any step", max((s.processed_per_s for s in steps), default=0.0))


if __name__ == "__main__":
    sys.exit(main())
