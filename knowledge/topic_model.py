"""A learned topic-and-intent classifier: linear model over characters, words and readings.

Why learned: the hand-tuned lexical scorer (:mod:`knowledge.understand`) carried over poorly
to messages written by strangers (situations without a question word, third parties,
dialects). A linear model trained on a corpus spread over those registers generalises far
better, and stays small, fast (well under a millisecond per message) and inspectable.

Three views of a message feed one sparse TF-IDF vector:

- ``c:`` character 1–3-grams of the normalised text (hiragana-folded, noise removed): robust
  to typos, dialect endings and words the dictionary does not know;
- ``w:`` SudachiPy dictionary forms of content words, and adjacent pairs: every conjugation
  and spelling variant of a word counts as one (泊まれる/とまれない → 泊まる);
- ``r:`` character 2–3-grams of the kana reading: 更生保護施設 and こうせいほごしせつ and
  ｺｳｾｲﾎｺﾞｼｾﾂ meet here.

The classifier is a linear SVM; its decision values are turned into probabilities by a
softmax whose temperature is a fixed constant chosen on held-out data (the shared dev sets,
which are never trained on). Probabilities are what the understander thresholds to abstain.

Training takes a few seconds on one core, most of it in the tokenizer. Three caches keep that
off the paths people wait on: each training line's features are kept in-process (an editor's
draft retrains only the linear model), trained models are kept in-process by the fingerprint
of their lines, and, when the caller names a cache directory, on disk (a service restart loads
the model in a fraction of a second instead of training it again).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from threading import Lock
from typing import TypeVar

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from . import model_cache
from .corpus import Example, fingerprint
from .lexical import analyze_message
from .linear_fast import FastLinear
from .normalize import Analysis

C = 1.0  # SVM regularisation; chosen on the dev sets (dev2: 0.3 → 89.1 %, 0.5 → 91.1 %, 1 → 92.1 %, 3 → 92.7 %)
# A feature must occur in at least this many training lines. Why 2: n-grams seen once are
# mostly one line's accident; dropping them halves the vocabulary, the model file and the
# training time, and held out by writer it changed nothing beyond noise (fourth writer −0.7,
# third writer +0.7 points).
MIN_DF = 2
TEMPERATURE = 0.12  # softmax temperature over decision values; dev sets, then writers held out (0.15 → 0.12 with ABSTAIN_BELOW 0.25 → 0.28: no held-out group worse, +1 to +3 lines each)
# Bump when :func:`features` or the analysis behind it changes: cached models are keyed by it.
FEATURES_VERSION = "features-2"  # 2: the lexical matcher's analysis (one SudachiPy pass per message)
# Bump when :func:`topic_features` changes (the danger model does not use it).
TOPIC_FEATURES_VERSION = "topic-1"  # 1: spaces closed up
# The topic model's own settings (the danger model shares FEATURES_VERSION, not these).
SETTINGS = f"{FEATURES_VERSION} {TOPIC_FEATURES_VERSION} C={C} min_df={MIN_DF} f32"


def features(a: Analysis) -> list[str]:
    feats: list[str] = []
    for chunk in a.norm.split(" "):
        padded = f" {chunk} "
        for n in (1, 2, 3):
            feats += ["c:" + padded[i:i + n] for i in range(len(padded) - n + 1) if padded[i:i + n].strip()]
    toks = a.tokens
    feats += ["w:" + t for t in toks]
    feats += ["w:" + toks[i] + "|" + toks[i + 1] for i in range(len(toks) - 1)]
    for chunk in a.reading.split(" "):
        for n in (2, 3):
            feats += ["r:" + chunk[i:i + n] for i in range(len(chunk) - n + 1)]
    return feats


def topic_features(a: Analysis) -> list[str]:
    """The topic model's view of a message: :func:`features` with its spaces closed up.

    Why: spaces are a writing habit (ひらがなを　くぎって　かく), not a topic. With the spaces
    kept, the character and reading n-grams at each space became a register signal, and a
    writer whose out-of-scope lines were often spaced taught the model that spaced hiragana
    means "none" (held out, 8 of the 9 in-scope lines it cost were spaced hiragana). Closed up,
    held out by writer: FAQ top-1 +2.2 / +0.2 points, intents +2.9, out-of-scope −0.4 / −0.5.
    The danger model keeps :func:`features` (its threshold was chosen on them).
    """
    if " " not in a.norm and " " not in a.reading:
        return features(a)
    return features(replace(a, norm=a.norm.replace(" ", ""), reading=a.reading.replace(" ", "")))


T = TypeVar("T")


def identity(x: T) -> T:
    return x


@dataclass
class TopicModel:
    """``rank(text)`` → ``[(label, probability, decision value), ...]`` best first.

    The probability says how a label compares with the others; the SVM's decision value says
    how much evidence there is at all (below zero: the message looks little like any of the
    label's lines). A bare 「はい」 or 「ああああ」 can be relatively closest to some label while
    having almost no evidence for it: the understander needs both.
    """

    vectorizer: TfidfVectorizer
    svm: LinearSVC
    labels: tuple[str, ...]

    @classmethod
    def train(cls, examples: list[Example], *, cache_dir: Path | None = None) -> TopicModel:
        key = fingerprint(examples, SETTINGS)
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is None and cache_dir is not None:
            cached = model_cache.load(cache_dir, "topic-model", key, cls)
        if cached is not None:
            with _LOCK:
                _CACHE[key] = cached
            return cached
        docs = [topic_line_features(ex.text) for ex in examples]
        vectorizer = TfidfVectorizer(analyzer=identity, sublinear_tf=True, min_df=MIN_DF, dtype=np.float32)
        matrix = vectorizer.fit_transform(docs)
        svm = LinearSVC(C=C)
        svm.fit(matrix, [ex.label for ex in examples])
        # Why float32: the coefficients are most of the model file and of its memory; single
        # precision changes no decision (measured on the dev sets) and halves both.
        svm.coef_ = svm.coef_.astype(np.float32)
        svm.intercept_ = svm.intercept_.astype(np.float32)
        model = cls(vectorizer, svm, tuple(str(c) for c in svm.classes_))
        with _LOCK:
            _CACHE[key] = model
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
        if cache_dir is not None:
            model_cache.save(cache_dir, "topic-model", key, model)
        return model

    @property
    def fast(self) -> FastLinear:
        """Inference without sklearn's per-call validation (see :mod:`knowledge.linear_fast`)."""
        fast = self.__dict__.get("_fast")
        if fast is None:
            fast = self.__dict__["_fast"] = FastLinear(self.vectorizer, self.svm.coef_, self.svm.intercept_)
        return fast

    def rank(self, text: str, analysis: Analysis | None = None) -> list[tuple[str, float, float]]:
        a = analysis if analysis is not None else analyze_message(text)
        return self.rank_features(topic_features(a)) if a.norm else []

    def rank_features(self, feats: list[str]) -> list[tuple[str, float, float]]:
        """``rank`` for :func:`topic_features` already computed (the understander shares the analysis)."""
        scores = self.fast.decision(feats)
        z = (scores - scores.max()) / TEMPERATURE
        probs = np.exp(z)
        probs /= probs.sum()
        order = np.argsort(-probs)
        return [(self.labels[i], float(probs[i]), float(scores[i])) for i in order]


_LOCK = Lock()
_CACHE: dict[str, TopicModel] = {}
_CACHE_SIZE = 4  # the live knowledge base plus a few editor drafts
_LINE_FEATURES: dict[str, list[str]] = {}
_TOPIC_LINE_FEATURES: dict[str, list[str]] = {}
_LINE_ANALYSES: dict[str, Analysis] = {}
_LINE_FEATURES_MAX = 20_000  # the corpus is ~6,000 lines and the danger lines ~2,700; drafts add a few


def clear_line_caches() -> None:
    """Forget every training line's analysis and features (the benchmark's cold start)."""
    for cache in (_LINE_FEATURES, _TOPIC_LINE_FEATURES, _LINE_ANALYSES):
        cache.clear()


_Value = TypeVar("_Value")


def _remembered(cache: dict[str, _Value], text: str, compute: Callable[[str], _Value]) -> _Value:
    """``compute(text)``, kept in ``cache`` up to ``_LINE_FEATURES_MAX`` training lines."""
    value = cache.get(text)
    if value is None:
        value = compute(text)
        if len(cache) < _LINE_FEATURES_MAX:
            cache[text] = value
    return value


def _line_analysis(text: str) -> Analysis:
    """One SudachiPy pass per training line, shared by both feature views."""
    return _remembered(_LINE_ANALYSES, text, analyze_message)


def line_features(text: str) -> list[str]:
    """:func:`features` of one training line, computed once per process (drafts retrain fast)."""
    return _remembered(_LINE_FEATURES, text, lambda t: features(_line_analysis(t)))


def topic_line_features(text: str) -> list[str]:
    """:func:`topic_features` of one training line, computed once per process."""
    return _remembered(_TOPIC_LINE_FEATURES, text, lambda t: topic_features(_line_analysis(t)))
