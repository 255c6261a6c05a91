"""The training corpus of the learned topic classifier: messages as people write them, by label.

Why a corpus apart from the entries' example questions: the questions in an entry's front
matter are a handful of tidy phrasings; strangers write in hiragana, dialect, slang, typos,
as a mother or an employer, or describe a situation without asking anything. The corpus
(``knowledge/corpus/``, see its README.md for how it was written) spreads each label over those
registers on purpose, so that the classifier learns the topic and not one team's wording.

Layout, one message per line, ``#`` starts a comment line:

- ``faq/<entry id>.txt`` — label ``<entry id>``;
- ``intent/<name>.txt`` — label ``intent:<name>`` (handoff, delete_data, greeting, thanks, menu);
- ``none.txt`` — label ``none``: outside what the knowledge base answers.

Crisis is deliberately absent: the crisis floor (:mod:`knowledge.crisis`) decides danger by
reviewed rules, in front of everything, and a classifier never overrides it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).with_name("corpus")
NONE = "none"
INTENT_PREFIX = "intent:"


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def _lines(path: Path) -> list[str]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def load_corpus(directory: Path | None = None) -> list[Example]:
    """Every labelled line of the corpus, in a stable order (files sorted by name)."""
    root = directory or CORPUS_DIR
    examples: list[Example] = []
    for path in sorted((root / "faq").glob("*.txt")):
        examples += [Example(t, path.stem) for t in _lines(path)]
    for path in sorted((root / "intent").glob("*.txt")):
        examples += [Example(t, INTENT_PREFIX + path.stem) for t in _lines(path)]
    none_file = root / "none.txt"
    if none_file.is_file():
        examples += [Example(t, NONE) for t in _lines(none_file)]
    return examples


def fingerprint(examples: list[Example], settings: str = "") -> str:
    """A hash of the examples and the model's settings, so that a model trained on the same lines
    the same way can be reused (and one trained with other features or parameters is not)."""
    h = hashlib.sha256()
    h.update(settings.encode())
    h.update(b"\0")
    for ex in examples:
        h.update(ex.label.encode())
        h.update(b"\t")
        h.update(ex.text.encode())
        h.update(b"\n")
    return h.hexdigest()
