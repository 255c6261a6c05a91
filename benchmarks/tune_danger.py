"""Choose the learned danger signal's settings by how it does for a writer it never saw.

Why leave-one-writer-out: the danger lines come from several writers, each with their own
habits. Folds that mix a writer's lines between training and test flatter the model (it has
seen that writer's wording); holding out a whole writer measures what matters — a stranger's
messages. For each held-out writer the model is trained on the other writers' lines plus the
topic corpus (harmless), and the whole crisis floor (reviewed rules OR the model) is scored on
the held-out lines at several thresholds. No blind set is read here.

    .venv/bin/python benchmarks/tune_danger.py            # all writers, default C
    .venv/bin/python benchmarks/tune_danger.py --c 3 --c 10
    .venv/bin/python benchmarks/tune_danger.py --score NEW.jsonl   # a new writer, before adding it
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import danger_model  # noqa: E402
from knowledge.corpus import Example, load_corpus  # noqa: E402
from knowledge.crisis import default_lexicon  # noqa: E402
from knowledge.danger_model import DangerModel, danger_files, load_danger_lines, training_examples  # noqa: E402
from knowledge.lexical import analyze_message  # noqa: E402
from knowledge.normalize import normalize  # noqa: E402
from knowledge.topic_model import features  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
SHORT_RAISE = True  # --flat: every message at the same threshold (how the short rule was chosen)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--c", type=float, action="append", help="inverse regularisation to try (repeatable)")
    parser.add_argument("--score", type=Path, help="score a new writer's file as held out (trained on every corpus writer)")
    parser.add_argument("--by-kind", action="store_true", help="also print misses and false alarms by kind (cat)")
    parser.add_argument("--lookalike-weight", type=float, help="weight of a writer's look-alike against a corpus line")
    parser.add_argument("--flat", action="store_true", help="no higher threshold for short messages")
    args = parser.parse_args(argv[1:])
    global SHORT_RAISE
    SHORT_RAISE = not args.flat
    if args.lookalike_weight is not None:
        danger_model.LOOKALIKE_WEIGHT = args.lookalike_weight
    if args.score is not None:
        return _score_new_writer(args.score, by_kind=args.by_kind)
    writers = {path.stem: load_danger_lines(path) for path in danger_files()}
    corpus = load_corpus()
    lexicon = default_lexicon()
    print(f"writers: {', '.join(f'{w} ({len(v)})' for w, v in writers.items())}; topic corpus {len(corpus)}")
    for c in args.c or [danger_model.C]:
        danger_model.C = c
        for held, test in writers.items():
            train = training_examples([ex for w, lines in writers.items() if w != held for ex in lines], corpus)
            model = DangerModel.train(train)
            danger_model._CACHE.clear()
            readings = [_reading(lexicon, model, ex) for ex in test]
            _print(c, held, readings)
            if args.by_kind:
                _print_by_kind(_kinds(ROOT / "knowledge" / "corpus" / f"{held}.jsonl"), readings, danger_model.THRESHOLD)
            everyday = [_reading(lexicon, model, ex) for ex in _everyday()]
            print("  on everyday messages (dev sets, no danger): "
                  + ", ".join(f"≥ {t:.2f}: {sum(_floor(r, t) for r in everyday)}/{len(everyday)} flagged" for t in THRESHOLDS))
    return 0


def _score_new_writer(path: Path, *, by_kind: bool) -> int:
    """Score a writer the model and the rules never saw (aggregates only, never lines)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [Example(r["text"], "danger" if r["danger"] else "safe") for r in rows]
    model = DangerModel.train(training_examples())
    readings = [_reading(default_lexicon(), model, ex) for ex in test]
    _print(danger_model.C, f"{path.name} (new writer)", readings)
    if by_kind:
        _print_by_kind([str(r.get("cat")) for r in rows], readings, danger_model.THRESHOLD)
    return 0


def _kinds(path: Path) -> list[str]:
    return [str(json.loads(line).get("cat")) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _print_by_kind(kinds: list[str], readings: list, threshold: float) -> None:
    """Misses (danger) and false alarms (look-alikes) per kind, rules alone → rules or model."""
    for kind in sorted(set(kinds)):
        rs = [r for k, r in zip(kinds, readings, strict=True) if k == kind]
        danger = rs[0][0]
        rules = sum(r[1] != danger for r in rs)
        floor = sum(_floor(r, threshold) != danger for r in rs)
        label = "missed" if danger else "false alarms"
        print(f"    {kind:32s} {label:12s} rules {rules:3d}, rules or model ≥ {threshold:.2f} {floor:3d}  of {len(rs)}")


def _everyday() -> list[Example]:
    """The dev sets' lines that are not danger: how often ordinary questions get an alarm."""
    out = []
    for name in ("dev.jsonl", "dev2.jsonl"):
        path = ROOT.parent / "shared" / "eval" / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line) if line.strip() else None
                if row and "intent:crisis" not in row["expect"]:
                    out.append(Example(row["text"], "safe"))
    return out


def _reading(lexicon, model: DangerModel, ex) -> tuple[bool, bool, float, bool, float]:
    """(is danger, a rule matched, the model's probability, a cancelling context, the floor a
    short message raises the threshold to — 0 for a long one)."""
    norm = normalize(ex.text)
    rule = lexicon.check(ex.text, normalized=norm).is_crisis
    p = model.probability_features(features(analyze_message(ex.text)))
    short = SHORT_RAISE and danger_model.threshold_for(norm) == danger_model.SHORT_THRESHOLD
    return ex.label == "danger", rule, p, lexicon.cancelled(ex.text, normalized=norm), \
        danger_model.SHORT_THRESHOLD if short else 0.0


def _floor(reading: tuple[bool, bool, float, bool, float], threshold: float) -> bool:
    """The crisis floor's decision, as knowledge.understand makes it: a rule hit, or the model
    (a short message needs at least the short threshold)."""
    _, rule, p, cancelled, short_floor = reading
    return rule or (p >= max(threshold, short_floor) and not cancelled)


def _share(k: int, n: int) -> str:
    """「k/n (x %)」; a writer of look-alikes only has no danger lines to recall."""
    return f"{k}/{n} ({100 * k / n:.1f} %)" if n else f"{k}/0 (—)"


def _print(c: float, held: str, readings: list) -> None:
    n = sum(r[0] for r in readings)
    m = len(readings) - n
    tp = sum(r[1] for r in readings if r[0])
    fp = sum(r[1] for r in readings if not r[0])
    print(f"\nC={c}, held out {held}: rules alone: recall {_share(tp, n)}, false alarms {_share(fp, m)}")
    for t in THRESHOLDS:
        tp = sum(_floor(r, t) for r in readings if r[0])
        fp = sum(_floor(r, t) for r in readings if not r[0])
        print(f"  rules or model ≥ {t:.2f}: recall {_share(tp, n)}, false alarms {_share(fp, m)}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
