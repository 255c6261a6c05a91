"""A learned danger signal beside the reviewed crisis rules: it adds what they miss, and it
tells an idiom from an alarm.

Why: the reviewed rules (:mod:`knowledge.crisis`) are exact and explainable, but strangers
describe danger in ways no rule anticipates, and use the rules' words for other things
(恥ずかしすぎて死にたいw, 昔は死にたかったけど今は幸せ, a student asking about リスカ). A
logistic regression over the topic model's features (:func:`knowledge.topic_model.features`),
trained on danger lines and harmless look-alikes from several writers, reads both kinds:

- no rule matched and the probability is at least ``THRESHOLD``: *possible* danger — the person
  gets the safety reply at once and one yes/no check question (the engine's "possible" tier);
- a rule matched but the probability is below ``HARMLESS_BELOW``: no alarm, and the answer
  carries a short safety note (110/119 and a 24-hour line), so a person who did mean it still
  sees where help is. Everything in between stays a crisis.

Training lines: ``knowledge/corpus/danger*.jsonl`` (``{"text", "danger": true|false}``, one file
per writer) plus every line of the topic corpus as harmless. The two cut-offs were chosen by
holding out one writer at a time (``benchmarks/tune_danger.py``), never on an evaluation set.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from . import model_cache
from .corpus import CORPUS_DIR, Example, fingerprint, load_corpus
from .linear_fast import FastLinear
from .lexical import analyze_message
from .normalize import Analysis
from .topic_model import FEATURES_VERSION, features, identity, line_features

DANGER_FILE = CORPUS_DIR / "danger.jsonl"  # the first writer's lines; others: danger_<writer>.jsonl
# Chosen with benchmarks/tune_danger.py, holding out each writer in turn (2026-12-02). On the
# two writers the rules were not written from, the rules alone recognised 378/600 danger lines
# (63 %) with 35/600 false alarms (5.8 %); with the model at 0.7 and harmless-below 0.2, 519
# (86.5 %) with 22 (3.7 %). 0.5 caught 23 more but flagged short everyday lines (電話できない) and
# idioms; the harmless cut removed 20 false alarms for one danger line.
THRESHOLD = 0.70  # no rule matched: at or above this the message is treated as possible danger
HARMLESS_BELOW = 0.20  # a rule matched: below this the message is read as harmless (safety note only)
C = 10.0  # inverse regularisation (LogisticRegression); balanced class weights
LEARNED_ID = "learned"  # the crisis id logged for a model-only flag (never text)


def danger_files(directory: Path | None = None) -> list[Path]:
    """Every writer's file of danger lines (``danger.jsonl``, ``danger_<writer>.jsonl``), in order."""
    return sorted((directory or CORPUS_DIR).glob("danger*.jsonl"))


def load_danger_lines(path: Path | None = None) -> list[Example]:
    """Labelled lines; raises ValueError naming the line when one is malformed."""
    out = []
    source = path or DANGER_FILE
    if not source.is_file():
        return out
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("text"), str) or not isinstance(row.get("danger"), bool):
            raise ValueError(f"{source}: line {n}: needs \"text\" and \"danger\" (true/false)")
        out.append(Example(row["text"], "danger" if row["danger"] else "safe"))
    return out


@dataclass
class DangerModel:
    vectorizer: TfidfVectorizer
    classifier: LogisticRegression

    @classmethod
    def train(cls, examples: list[Example] | None = None, *, cache_dir: Path | None = None) -> "DangerModel | None":
        """Train on ``examples`` (default: the danger lines plus the topic corpus as harmless)."""
        if examples is None:
            examples = [ex for path in danger_files() for ex in load_danger_lines(path)]
            examples += [Example(ex.text, "safe") for ex in load_corpus()]
        if not any(ex.label == "danger" for ex in examples):
            return None
        key = fingerprint(examples, f"{FEATURES_VERSION} C={C}")
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is None and cache_dir is not None:
            cached = model_cache.load(cache_dir, "danger-model", key, cls)
        if cached is None:
            vectorizer = TfidfVectorizer(analyzer=identity, sublinear_tf=True)
            matrix = vectorizer.fit_transform([line_features(ex.text) for ex in examples])
            classifier = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
            classifier.fit(matrix, [ex.label == "danger" for ex in examples])
            cached = cls(vectorizer, classifier)
            if cache_dir is not None:
                model_cache.save(cache_dir, "danger-model", key, cached)
        with _LOCK:
            _CACHE.clear()
            _CACHE[key] = cached
        return cached

    def probability(self, text: str, analysis: Analysis | None = None) -> float:
        a = analysis if analysis is not None else analyze_message(text)
        return self.probability_features(features(a)) if a.norm else 0.0

    def probability_features(self, feats: list[str]) -> float:
        z = float(self.fast.decision(feats)[0])
        return 1.0 / (1.0 + math.exp(-z))

    @property
    def fast(self) -> FastLinear:
        """Inference without sklearn's per-call validation (see :mod:`knowledge.linear_fast`)."""
        fast = self.__dict__.get("_fast")
        if fast is None:
            fast = self.__dict__["_fast"] = FastLinear(self.vectorizer, self.classifier.coef_, self.classifier.intercept_)
        return fast

    def flags(self, text: str, analysis: Analysis | None = None) -> bool:
        return self.probability(text, analysis) >= THRESHOLD


_LOCK = Lock()
_CACHE: dict[str, DangerModel] = {}
