"""Choose the understander's decision constants on held-out data, and show the trade-off.

    .venv/bin/python benchmarks/tune_understanding.py [--sets ../shared/eval/dev.jsonl ../shared/eval/dev2.jsonl]

Why a script: the thresholds in :mod:`knowledge.understand` (abstain, lexical weight, intent
override) must be chosen on lines the classifier was not trained on. The model is trained on
``knowledge/corpus/`` and the entries' own questions; the shared dev sets are never trained
on, so they can choose constants. The blind sets in ``benchmarks/`` are never used here: they
measure the result.

Prints the best grid point by mean accuracy over the sets, the current constants' figure, and
a coverage/accuracy curve for the abstention threshold (coverage = share of in-scope lines
answered; accuracy = share of answered lines answered right). The same curve on lines of
writers held out of training is printed by ``benchmarks/cv_understanding.py --curve``.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import knowledge.understand as und  # noqa: E402
from knowledge.evaluate import is_right, load_labelled  # noqa: E402
from knowledge.kb import load_kb  # noqa: E402

DEV_SETS = [str(ROOT.parent / "shared" / "eval" / n) for n in ("dev.jsonl", "dev2.jsonl")]
GRID = {
    "ABSTAIN_BELOW": (0.2, 0.25, 0.28, 0.3, 0.35),
    "LEXICAL_WEIGHT": (0.35, 0.5, 0.65),
    "OVERRIDE_THRESHOLD": (0.4, 0.5),
    "INTENT_MODEL_THRESHOLD": (0.3, 0.4),
    "EVIDENCE_FLOOR": (-0.7, -0.55, -0.4),
    "NONE_TOP": (0.35, 0.5),
    "LEGAL_OVERRULED_AT": (0.9, 1.01),  # 1.01: the legal rule always wins (as before)
}


def accuracy(u: und.Understander, rows: list[dict]) -> float:
    return sum(is_right(r["kind"], r["expect"], u.classify(r["text"])) for r in rows) / len(rows)


def cached(u: und.Understander) -> None:
    """Memoise the model and lexical rankings: only the decision constants change."""
    model_rank, lex_rank, analyze = u.model.rank_features, u.lexical.rank, und.analyze_message
    m_cache: dict = {}
    l_cache: dict = {}
    a_cache: dict = {}
    u.model.rank_features = lambda f: m_cache[k] if (k := tuple(f)) in m_cache else m_cache.setdefault(k, model_rank(f))  # type: ignore[method-assign]
    u.lexical.rank = lambda t, a=None: l_cache[t] if t in l_cache else l_cache.setdefault(t, lex_rank(t, a))  # type: ignore[method-assign]
    und.analyze_message = lambda t: a_cache[t] if t in a_cache else a_cache.setdefault(t, analyze(t))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=DEV_SETS)
    args = ap.parse_args()
    sets = {Path(p).name: load_labelled(p) for p in args.sets}
    u = und.Understander(load_kb())
    cached(u)
    current = {k: getattr(und, k) for k in GRID}
    print("current", current, {n: f"{accuracy(u, rows):.3f}" for n, rows in sets.items()})
    best = (0.0, None)
    for values in itertools.product(*GRID.values()):
        for k, v in zip(GRID, values, strict=True):
            setattr(und, k, v)
        accs = [accuracy(u, rows) for rows in sets.values()]
        mean = sum(accs) / len(accs)
        if mean > best[0]:
            best = (mean, dict(zip(GRID, values, strict=True)), accs)
    print("best  ", best[1], [f"{a:.3f}" for a in best[2]], f"mean {best[0]:.3f}")
    for k, v in current.items():
        setattr(und, k, v)
    print("\ncoverage/accuracy by abstention threshold (other constants as in the code)")
    print(f"{'threshold':>9}  " + "  ".join(f"{n:>22}" for n in sets))
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7):
        und.ABSTAIN_BELOW = t
        cells = []
        for rows in sets.values():
            scope = [r for r in rows if r["kind"] == "faq"]
            got = [u.classify(r["text"]) for r in scope]
            answered = [(r, g) for r, g in zip(scope, got, strict=True) if g.intent == "faq"]
            right = sum(g.topic in r["expect"] for r, g in answered)
            none_rows = [r for r in rows if r["kind"] == "none"]
            abst = sum(u.classify(r["text"]).intent == "none" for r in none_rows)
            cov = len(answered) / len(scope)
            acc = right / len(answered) if answered else 0.0
            cells.append(f"cov {cov:.2f} acc {acc:.2f} none {abst}/{len(none_rows)}")
        print(f"{t:>9.2f}  " + "  ".join(f"{c:>22}" for c in cells))
    und.ABSTAIN_BELOW = current["ABSTAIN_BELOW"]


if __name__ == "__main__":
    main()
