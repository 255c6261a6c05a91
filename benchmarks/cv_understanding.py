"""Cross-validation of the understander that holds out whole writers of the training corpus.

    .venv/bin/python benchmarks/cv_understanding.py [--writers "writer 4" "writer 5"]

Why: a line's neighbours in the corpus were written by the same person, in the same mood, often
as variations of one sentence; holding out random lines measures how well the model remembers
its writer, not how it reads a stranger. Here each fold trains on every line *except* one
writer's (the sections after a ``# --- writer N`` comment in ``knowledge/corpus/``; lines before
the first such comment are the first two writers, who split the labels between them and so
cannot be held out one at a time) and scores that writer's lines through the whole understander
(crisis floor, intents, abstention). The entries' own questions are always trained on. The
shared dev sets are scored with the model trained on everything. Never reads the blind sets.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import understand as und  # noqa: E402
from knowledge.corpus import CORPUS_DIR, INTENT_PREFIX, NONE, Example, load_corpus  # noqa: E402
from knowledge.evaluate import is_right, load_labelled  # noqa: E402
from knowledge.kb import KnowledgeBase, load_kb  # noqa: E402
from knowledge.topic_model import TopicModel  # noqa: E402

DEV_SETS = [ROOT.parent / "shared" / "eval" / n for n in ("dev.jsonl", "dev2.jsonl")]
FIRST = "writers 1-2"


def writer_of_lines(directory: Path = CORPUS_DIR) -> dict[tuple[str, str], str]:
    """``(label, text) -> writer``, from the ``# --- writer N (...)`` section comments."""
    out: dict[tuple[str, str], str] = {}
    files = [(p, p.stem) for p in sorted((directory / "faq").glob("*.txt"))]
    files += [(p, INTENT_PREFIX + p.stem) for p in sorted((directory / "intent").glob("*.txt"))]
    files.append((directory / "none.txt", NONE))
    for path, label in files:
        writer = FIRST
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if line.startswith("# --- "):
                writer = line.removeprefix("# --- ").split("(")[0].strip()
            elif line and not line.startswith("#"):
                out.setdefault((label, line), writer)
    return out


def row(ex: Example) -> dict:
    if ex.label == NONE:
        return {"text": ex.text, "kind": "none", "expect": []}
    if ex.label.startswith(INTENT_PREFIX):
        return {"text": ex.text, "kind": "intent", "expect": [ex.label.removeprefix(INTENT_PREFIX)]}
    return {"text": ex.text, "kind": "faq", "expect": [ex.label]}


def score(u: und.Understander, rows: list[dict]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        ok = is_right(r["kind"], r["expect"], u.classify(r["text"]))
        for key in (r["kind"], "overall"):
            counts[key][0] += ok
            counts[key][1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def with_model(base: und.Understander, kb: KnowledgeBase, corpus: list[Example]) -> und.Understander:
    """``base`` with its topic model retrained on ``corpus`` (lexical matcher and danger model kept)."""
    u = und.Understander.__new__(und.Understander)
    u.__dict__.update(base.__dict__)
    u.model = TopicModel.train(und.training_examples(kb, corpus))
    return u


def show(name: str, result: dict[str, tuple[int, int]]) -> None:
    cells = [f"{k} {a}/{b} ({a / b * 100:.1f}%)" for k in ("faq", "intent", "none", "overall")
             if (a := result.get(k, (0, 0))[0]) is not None and (b := result.get(k, (0, 0))[1])]
    print(f"{name:<22} " + "   ".join(cells))


def curve(u: und.Understander, rows: list[dict], name: str) -> None:
    """Coverage/accuracy of the in-scope lines and abstention on out-of-scope ones, by threshold."""
    scope = [r for r in rows if r["kind"] == "faq"]
    outside = [r for r in rows if r["kind"] == "none"]
    keep = und.ABSTAIN_BELOW
    print(f"  {name}: threshold → coverage of in-scope lines, accuracy of those answered, out-of-scope abstained")
    for t in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        und.ABSTAIN_BELOW = t
        got = [(r, u.classify(r["text"])) for r in scope]
        answered = [(r, g) for r, g in got if g.intent == "faq"]
        acc = sum(g.topic in r["expect"] for r, g in answered) / len(answered) if answered else 0.0
        cov = len(answered) / len(scope) if scope else 0.0
        abst = sum(u.classify(r["text"]).intent == "none" for r in outside)
        print(f"    {t:>5.2f}  coverage {cov:.3f}  accuracy {acc:.3f}  none {abst}/{len(outside)}")
    und.ABSTAIN_BELOW = keep


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="cv_understanding.py", description=__doc__.split("\n")[0])
    ap.add_argument("--writers", nargs="*", default=None, help="writers to hold out (default: every marked writer)")
    ap.add_argument("--curve", action="store_true", help="also print the coverage/accuracy curve per held-out writer")
    args = ap.parse_args(argv[1:])
    kb = load_kb()
    corpus = load_corpus()
    writers = writer_of_lines()
    base = und.Understander(kb)
    for path in DEV_SETS:
        if path.exists():
            show(f"{path.name} (tuned on)", score(base, load_labelled(str(path))))
    held = args.writers if args.writers is not None else sorted({w for w in writers.values() if w != FIRST})
    for writer in held:
        mine = [ex for ex in corpus if writers.get((ex.label, ex.text)) == writer]
        rest = [ex for ex in corpus if writers.get((ex.label, ex.text)) != writer]
        if mine:
            u = with_model(base, kb, rest)
            rows = [row(ex) for ex in mine]
            show(f"held out: {writer}", score(u, rows))
            if args.curve:
                curve(u, rows, writer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
