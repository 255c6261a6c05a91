"""Benchmark the understanding layer on a labelled set, next to a naive baseline.

    .venv/bin/python benchmarks/understanding.py [../shared/eval/dev.jsonl] [--file benchmarks/heldout.jsonl ...]

The first set defaults to dev; each ``--file`` adds one more labelled set, printed as its own
table. Without ``--file`` the held-out set written for this project (``benchmarks/heldout.jsonl``,
written from ../shared/kb/topics.yaml without looking at dev) is added when it exists.

Prints accuracy per kind, crisis recall and false alarms, and classify latency p50/p99 (ms,
one core, after one warm-up pass) for:

- ``ristapo``  — knowledge.understand.Understander (crisis → intents → FAQ → abstain);
- ``baseline`` — rapidfuzz WRatio of the raw message against entry titles only, abstaining
  below a fixed cut-off (the same idea as ours: answer only when confident).

Not a test: numbers are for people to read, never asserted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.evaluate import KINDS, is_right, load_labelled  # noqa: E402
from knowledge.kb import KnowledgeBase, load_kb  # noqa: E402
from knowledge.understand import Understander, Understanding  # noqa: E402

DEFAULT_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
HELDOUT_SET = ROOT / "benchmarks" / "heldout.jsonl"
BASELINE_CUTOFF = 50.0  # WRatio 0..100; 40–70 all give 20–31 % overall on dev


class Baseline:
    """WRatio(raw message, entry title) → best title above a cut-off, else none."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.ids = [e.id for e in kb]
        self.titles = [e.title for e in kb]

    def classify(self, text: str) -> Understanding:
        best = process.extract(text, self.titles, scorer=fuzz.WRatio, limit=3)
        if not best or best[0][1] < BASELINE_CUTOFF:
            return Understanding("none", None, best[0][1] / 100 if best else 0.0, [])
        return Understanding("faq", self.ids[best[0][2]], best[0][1] / 100, [self.ids[b[2]] for b in best])


def measure(classifier, rows: list[dict]) -> dict:
    for row in rows:  # warm-up: tokenizer, caches
        classifier.classify(row["text"])
    right = {k: 0 for k in KINDS}
    total = {k: 0 for k in KINDS}
    crisis_right = crisis_total = false_alarms = 0
    times = []
    for row in rows:
        start = time.perf_counter()
        u = classifier.classify(row["text"])
        times.append((time.perf_counter() - start) * 1000)
        total[row["kind"]] += 1
        right[row["kind"]] += is_right(row["kind"], row["expect"], u)
        if "intent:crisis" in row["expect"]:
            crisis_total += 1
            crisis_right += u.intent == "crisis"
        elif u.intent == "crisis":
            false_alarms += 1
    times.sort()
    return {
        "right": right, "total": total, "crisis": (crisis_right, crisis_total), "false_alarms": false_alarms,
        "p50": statistics.median(times), "p99": times[min(len(times) - 1, int(0.99 * len(times)))],
        "max": times[-1],
    }


def report(path: str, kb: KnowledgeBase, ours: Understander, build_ms: float) -> None:
    rows = load_labelled(path)
    results = {"ristapo": measure(ours, rows), "baseline": measure(Baseline(kb), rows)}

    def pct(r, k):
        return f"{r['right'][k]}/{r['total'][k]} ({100 * r['right'][k] / r['total'][k]:.1f}%)" if r["total"][k] else "-"

    print(f"set: {path} ({len(rows)} lines), kb: {len(kb)} entries, index build {build_ms:.0f} ms")
    header = f"{'':<14}" + "".join(f"{name:>22}" for name in results)
    print(header)
    print("-" * len(header))
    for k in KINDS:
        print(f"{k:<14}" + "".join(f"{pct(r, k):>22}" for r in results.values()))
    for label, fn in [
        ("overall", lambda r: f"{sum(r['right'].values())}/{sum(r['total'].values())} "
                              f"({100 * sum(r['right'].values()) / sum(r['total'].values()):.1f}%)"),
        ("crisis", lambda r: f"{r['crisis'][0]}/{r['crisis'][1]}"),
        ("false crisis", lambda r: str(r["false_alarms"])),
        ("p50 ms", lambda r: f"{r['p50']:.3f}"),
        ("p99 ms", lambda r: f"{r['p99']:.3f}"),
        ("max ms", lambda r: f"{r['max']:.3f}"),
    ]:
        print(f"{label:<14}" + "".join(f"{fn(r):>22}" for r in results.values()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="understanding.py", description=__doc__.split("\n")[0])
    parser.add_argument("set", nargs="?", default=str(DEFAULT_SET), help="labelled .jsonl (default: dev)")
    parser.add_argument("--file", action="append", default=None, metavar="JSONL",
                        help="another labelled set to measure (repeatable; default: the held-out set)")
    args = parser.parse_args(argv[1:])
    extra = args.file if args.file is not None else ([str(HELDOUT_SET)] if HELDOUT_SET.exists() else [])
    kb = load_kb()
    start = time.perf_counter()
    ours = Understander(kb)
    build_ms = (time.perf_counter() - start) * 1000
    for n, path in enumerate([args.set, *extra]):
        if n:
            print()
        report(path, kb, ours, build_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
