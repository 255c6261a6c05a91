"""In-process pipeline micro-benchmark (a measurement, not a test).

    .venv/bin/python benchmarks/pipeline_turns.py [--events 600] [--users 300] [--pg-url URL] [--profile]

No HTTP, no subprocesses: N signed-and-parsed LINE text events are stored in the inbox, then

1. **webhook parse**: ``LineAdapter.split_events`` per one-event body (signature check + split);
2. **turns**: ``pipeline.process_inbox_batch`` until the inbox is empty → engine turns per second
   (take, turn, writes, outbox row, mark done, as in production);
3. **delivery**: ``pipeline.run_outbox_once`` against the local fake LINE API → sends per second
   (claim, SDK call, record outcome); the fake runs in a child process, off this GIL, and its
   response time is part of the wall time (the CPU figure is this process's alone);
4. **classify**: ``Understander.classify`` alone on the benchmark texts.

SQLite in a temp dir by default; ``--pg-url`` uses an *empty* PostgreSQL database instead
(tables are dropped and created). ``--profile turns|delivery`` prints the top of a cProfile
(of the last run; ``--sort tottime --top 60``). ``--runs N`` (default 3) repeats steps 1–4 with
new users each time and prints median and min–max (``benchmarks/runs.py``).
Figures (2-core VM, otherwise idle, per item): SQLite turn 1.15 ms CPU (2.7 ms before the
batched turns, 5.2 ms before the hot-path work), delivery 0.52 ms CPU (1.47, 3.75), parse
0.020 ms, classify 0.29 ms; PostgreSQL turn 1.27 ms CPU / 2.6 ms wall (4.0 / 5.8, 7.4 / 9.4). More in
docs/performance.md.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.runs import Figures, LoadSampler, add_runs_argument, header  # noqa: E402
from core.messages import A_CONSENT_YES  # noqa: E402
from tests.builders import line_body, make_line_postback_event, make_line_text_event, sign  # noqa: E402
from tests.fakes.line_api import FakeLineApi  # noqa: E402

SECRET = "bench-channel-secret"
TEXTS = ["住むところがない", "仕事を探したい", "こんにちは", "お金に困っている", "出所したばかりです", "ありがとう",
         "保護観察所はどこにありますか", "生活保護を受けたい", "人と話したい", "更生保護施設について知りたい"]


def _setup(data_dir: str, pg_url: str | None, fake) -> None:
    os.environ.update(
        RISTAPO_ENV="dev",
        RISTAPO_DATA_DIR=data_dir,
        RISTAPO_DATABASE_URL=pg_url or f"sqlite:///{data_dir}/bench.db",
        RISTAPO_DATA_KEY="b1:" + base64.b64encode(os.urandom(32)).decode(),
        RISTAPO_ID_PEPPER="bench-pepper",
        RISTAPO_LINE_CHANNEL_SECRET=SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN="bench-token",
        RISTAPO_LINE_API_BASE=fake.base_url,
        RISTAPO_LINE_DATA_API_BASE=fake.base_url,
        NO_PROXY="127.0.0.1,localhost",
    )
    from bot.startup import prepare
    from core import db
    from core.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    prepare(settings, create_tables=not pg_url)  # PostgreSQL: a fresh schema below, like the tests
    if pg_url:
        from sqlmodel import SQLModel

        db.import_all_models()
        SQLModel.metadata.drop_all(db.engine())
    db.create_all()


def _fake_child(conn) -> None:
    """The fake LINE API in its own process, so its HTTP handling does not share our GIL."""
    fake = FakeLineApi().start()
    conn.send(fake.base_url)
    while True:
        cmd = conn.recv()
        if cmd == "count":
            conn.send(len(fake.accepted))
        elif cmd == "reset":
            fake.reset()
            conn.send(True)
        else:
            fake.stop()
            conn.send(True)
            return


class _RemoteFake:
    def __init__(self) -> None:
        import multiprocessing as mp

        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_fake_child, args=(child,), daemon=True)
        self.proc.start()
        self.base_url = self.conn.recv()

    def ask(self, cmd: str):
        self.conn.send(cmd)
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.proc.join(5)


async def _deliver(pipeline, adapter) -> int:
    try:
        return await pipeline.run_outbox_once()
    finally:
        await adapter.aclose()  # the SDK client belongs to this loop


async def _same_thread(fn, *a, **kw):
    return fn(*a, **kw)


def _consent_users(args, run, pipeline, adapter) -> None:
    """Untimed: every user of the run consents first (with --consented)."""
    from core import db

    # why untimed: the figure is the turn of a consented user (understanding, answer), not
    # the consent prompt every new user sees first
    with db.session_scope() as s:
        for i in range(min(args.users, args.events)):
            body = line_body(make_line_postback_event(A_CONSENT_YES, user_id=f"Us{run}-{i:04d}"))
            pipeline.store_events(s, "line", adapter.split_events(body, sign(body, SECRET))[0])
    while pipeline.process_inbox_batch(50):
        pass
    asyncio.run(_deliver(pipeline, adapter))


def _parse_and_store(args, run, pipeline, adapter, bodies) -> float:
    """1. Webhook parse (timed), then the events are stored; returns the parse time."""
    from core import db

    signed = bodies(args.events, f"s{run}-")
    t0 = time.perf_counter()
    parsed = [adapter.split_events(body, sig)[0] for body, sig in signed]
    parse_s = time.perf_counter() - t0
    with db.session_scope() as s:
        for evs in parsed:
            pipeline.store_events(s, "line", evs)
    return parse_s


def _turns(args, run, pipeline):
    """2. Turns; returns (profile or None, turns, wall s, CPU s)."""
    # why only the last run is profiled: the earlier ones measure without the profiler's cost
    prof = cProfile.Profile() if args.profile == "turns" and run == args.runs else None
    c0 = time.process_time()
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    turns = 0
    while True:
        n = pipeline.process_inbox_batch(50)
        if n == 0:
            break
        turns += n
    if prof:
        prof.disable()
    turns_s = time.perf_counter() - t0
    turns_cpu = time.process_time() - c0
    return prof, turns, turns_s, turns_cpu


def _delivery(args, run, pipeline, adapter, fake, prof):
    """3. Delivery; returns (profile, sent, wall s, CPU s, accepted by the fake)."""
    fake.ask("reset")
    if args.profile == "delivery" and run == args.runs:
        # why threads off: cProfile sees one thread; run claim/finish on the loop's thread
        asyncio.to_thread = _same_thread  # the module every pipeline module uses
        prof = cProfile.Profile()
        prof.enable()
    c0 = time.process_time()
    t0 = time.perf_counter()
    sent = asyncio.run(_deliver(pipeline, adapter))
    send_s = time.perf_counter() - t0
    send_cpu = time.process_time() - c0
    if args.profile == "delivery" and run == args.runs:
        prof.disable()
    accepted = fake.ask("count")
    return prof, sent, send_s, send_cpu, accepted


def _classify(args, rt):
    """4. Classify; returns (repetitions, wall s, CPU s)."""
    und = rt.knowledge.understander
    reps = max(1, args.events // len(TEXTS))
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(reps):
        for text in TEXTS:
            und.classify(text)
    cls_s = time.perf_counter() - t0
    cls_cpu = time.process_time() - c0
    return reps, cls_s, cls_cpu


def _measure(args, run, pipeline, adapter, rt, fake, bodies, figures):
    """One measured run: parse, turns, delivery, classify; figures appended, profile returned."""
    if args.consented:
        _consent_users(args, run, pipeline, adapter)

    # 1. webhook parse
    parse_s = _parse_and_store(args, run, pipeline, adapter, bodies)

    # 2. turns
    prof, turns, turns_s, turns_cpu = _turns(args, run, pipeline)

    # 3. delivery
    prof, sent, send_s, send_cpu, accepted = _delivery(args, run, pipeline, adapter, fake, prof)

    # 4. classify
    reps, cls_s, cls_cpu = _classify(args, rt)

    figures.add("webhook parse (ms each)", 1000 * parse_s / args.events, ".3f")
    figures.add("turns (events/s)", turns / turns_s, ".0f")
    figures.add("turn wall (ms each)", 1000 * turns_s / max(turns, 1), ".2f")
    figures.add("turn CPU (ms each)", 1000 * turns_cpu / max(turns, 1), ".2f")
    figures.add("delivery (sends/s)", sent / send_s, ".0f")
    figures.add("delivery CPU (ms each)", 1000 * send_cpu / max(sent, 1), ".2f")
    figures.add("classify wall (ms each)", 1000 * cls_s / (reps * len(TEXTS)), ".3f")
    figures.add("classify CPU (ms each)", 1000 * cls_cpu / (reps * len(TEXTS)), ".3f")
    print(f"  run {run}/{args.runs}: turn CPU {1000 * turns_cpu / max(turns, 1):.2f} ms ({turns} turns), "
          f"delivery CPU {1000 * send_cpu / max(sent, 1):.2f} ms ({accepted} accepted by the fake)", flush=True)
    return prof


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=600)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--pg-url", default=None, help="an empty PostgreSQL database (its tables are dropped)")
    ap.add_argument("--profile", default="", choices=["", "turns", "delivery"], help="cProfile one step (main thread, last run)")
    ap.add_argument("--sort", default="cumulative", help="pstats sort key for --profile (cumulative, tottime, ...)")
    ap.add_argument("--top", type=int, default=45, help="rows of the profile to print")
    ap.add_argument("--consented", action="store_true",
                    help="users accept the consent first (untimed), so the timed turns reach the understanding")
    add_runs_argument(ap)
    return ap.parse_args()


def _warm_up(pipeline, adapter, bodies) -> None:
    """Imports, first queries, consent text row: untimed."""
    from core import db

    warm = bodies(20, "w")
    with db.session_scope() as s:
        for body, sig in warm:
            pipeline.store_events(s, "line", adapter.split_events(body, sig)[0])
    while pipeline.process_inbox_batch(50):
        pass
    asyncio.run(_deliver(pipeline, adapter))


def _report(args, figures: Figures, prof) -> None:
    backend = "PostgreSQL" if args.pg_url else "SQLite"
    print(f"pipeline_turns: {args.events} events from {args.users} {'consented ' if args.consented else 'new '}users per run, "
          f"{backend}, one process, one thread")
    print(figures.report(f"median (min–max) over {args.runs} run(s), each with new users:"))
    print(f"  machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(header("pipeline_turns.py", args.runs))
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())


def main() -> int:
    args = _parse_args()

    fake = _RemoteFake()
    with tempfile.TemporaryDirectory(prefix="ristapo-turns-") as data_dir:
        _setup(data_dir, args.pg_url, fake)
        from bot import pipeline
        from bot.channels.line import LineAdapter
        from bot.runtime import get_runtime
        from core.settings import get_settings

        adapter = LineAdapter(get_settings())
        pipeline.register_adapter(adapter)
        rt = get_runtime()

        def bodies(n: int, prefix: str) -> list[tuple[bytes, str]]:
            out = []
            for i in range(n):
                body = line_body(make_line_text_event(TEXTS[i % len(TEXTS)], user_id=f"U{prefix}{i % args.users:04d}"))
                out.append((body, sign(body, SECRET)))
            return out

        # warm-up: imports, first queries, consent text row
        _warm_up(pipeline, adapter, bodies)

        figures = Figures()
        prof = None
        for run in range(1, args.runs + 1):
            sampler = LoadSampler()
            with sampler:
                prof = _measure(args, run, pipeline, adapter, rt, fake, bodies, figures)
            print(f"  run {run}/{args.runs}: {sampler.line()}", flush=True)
        _report(args, figures, prof)
        pipeline.unregister_adapter("line")
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
