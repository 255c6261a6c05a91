"""Choose the learned danger signal's settings by how it does for a writer it never saw.

Why leave-one-writer-out: the danger lines come from several writers, each with their own
habits. Folds that mix a writer's lines between training and test flatter the model (it has
seen that writer's wording); holding out a whole writer measures what matters — a stranger's
messages. For each held-out writer the model is trained on the other writers' lines plus the
topic corpus (harmless), and the whole crisis floor (reviewed rules OR the model) is scored on
the held-out lines at several thresholds. No blind set is read here.

    .venv/bin/python benchmarks/tune_danger.py            # all writers, default C
    .venv/bin/python benchmarks/tune_danger.py --c 3 --c 10
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import danger_model  # noqa: E402
from knowledge.corpus import Example, load_corpus  # noqa: E402
from knowledge.crisis import default_lexicon  # noqa: E402
from knowledge.danger_model import DangerModel, danger_files, load_danger_lines  # noqa: E402
from knowledge.normalize import normalize  # noqa: E402
from knowledge.topic_model import features  # noqa: E402
from knowledge.normalize import analyze  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--c", type=float, action="append", help="inverse regularisation to try (repeatable)")
    args = parser.parse_args(argv[1:])
    writers = {path.stem: load_danger_lines(path) for path in danger_files()}
    harmless = [Example(ex.text, "safe") for ex in load_corpus()]
    lexicon = default_lexicon()
    rule_hit = {}
    for lines in writers.values():
        for ex in lines:
            rule_hit[ex.text] = lexicon.check(ex.text, normalized=normalize(ex.text)).is_crisis
    print(f"writers: {', '.join(f'{w} ({len(v)})' for w, v in writers.items())}; harmless corpus {len(harmless)}")
    for c in args.c or [danger_model.C]:
        danger_model.C = c
        for held, test in writers.items():
            totals = defaultdict(lambda: [0, 0, 0, 0])  # threshold -> tp, danger, fp, safe
            rules_only = [0, 0, 0, 0]
            train = [ex for w, lines in writers.items() if w != held for ex in lines] + harmless
            model = DangerModel.train(train)
            danger_model._CACHE.clear()
            for ex in test:
                is_danger = ex.label == "danger"
                text = ex.text
                norm = normalize(text)
                rule = rule_hit[text]
                p = model.probability_features(features(analyze(text))) if not rule else 1.0
                cancelled = lexicon.cancelled(text, normalized=norm)
                rules_only[0 if is_danger else 2] += rule
                rules_only[1 if is_danger else 3] += 1
                for t in THRESHOLDS:
                    hit = rule or (p >= t and not cancelled)
                    row = totals[t]
                    row[0 if is_danger else 2] += hit
                    row[1 if is_danger else 3] += 1
            _print(c, held, rules_only, totals)
    return 0


def _print(c: float, held: str, rules_only: list[int], totals: dict) -> None:
    tp, n, fp, m = rules_only
    print(f"\nC={c}, held out {held}: rules alone: recall {tp}/{n} ({100 * tp / n:.1f} %), false alarms {fp}/{m} ({100 * fp / m:.1f} %)")
    for t in THRESHOLDS:
        tp, n, fp, m = totals[t]
        print(f"  rules or model ≥ {t:.2f}: recall {tp}/{n} ({100 * tp / n:.1f} %), "
              f"false alarms {fp}/{m} ({100 * fp / m:.1f} %)")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
