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

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from .corpus import Example, fingerprint
from .normalize import Analysis, analyze

log = logging.getLogger(__name__)

C = 1.0  # SVM regularisation; chosen on the dev sets (dev2: 0.3 → 89.1 %, 0.5 → 91.1 %, 1 → 92.1 %, 3 → 92.7 %)
TEMPERATURE = 0.15  # softmax temperature over decision values; chosen on the dev sets


def _features(a: Analysis) -> list[str]:
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


def _identity(x):
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
    def train(cls, examples: list[Example], *, cache_dir: Path | None = None) -> "TopicModel":
        key = fingerprint(examples)
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is None and cache_dir is not None:
            cached = _load(cache_dir, key)
        if cached is not None:
            with _LOCK:
                _CACHE[key] = cached
            return cached
        docs = [_line_features(ex.text) for ex in examples]
        vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=1)
        matrix = vectorizer.fit_transform(docs)
        svm = LinearSVC(C=C)
        svm.fit(matrix, [ex.label for ex in examples])
        model = cls(vectorizer, svm, tuple(str(c) for c in svm.classes_))
        with _LOCK:
            _CACHE[key] = model
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
        if cache_dir is not None:
            _save(cache_dir, key, model)
        return model

    def rank(self, text: str, analysis: Analysis | None = None) -> list[tuple[str, float, float]]:
        a = analysis if analysis is not None else analyze(text)
        if not a.norm:
            return []
        scores = self.svm.decision_function(self.vectorizer.transform([_features(a)]))[0]
        z = (scores - scores.max()) / TEMPERATURE
        probs = np.exp(z)
        probs /= probs.sum()
        order = np.argsort(-probs)
        return [(self.labels[i], float(probs[i]), float(scores[i])) for i in order]


_LOCK = Lock()
_CACHE: dict[str, TopicModel] = {}
_CACHE_SIZE = 4  # the live knowledge base plus a few editor drafts
_LINE_FEATURES: dict[str, list[str]] = {}
_LINE_FEATURES_MAX = 20_000  # the corpus is ~4,000 lines; editors' drafts add a few


def _line_features(text: str) -> list[str]:
    feats = _LINE_FEATURES.get(text)
    if feats is None:
        feats = _features(analyze(text))
        if len(_LINE_FEATURES) < _LINE_FEATURES_MAX:
            _LINE_FEATURES[text] = feats
    return feats


def _model_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"topic-model-{key[:24]}.pickle"


def _load(cache_dir: Path, key: str) -> TopicModel | None:
    # Why pickle is acceptable: the file lives in the service's own data directory, written by
    # this code, with the same trust as the database next to it; a bad file is retrained.
    path = _model_path(cache_dir, key)
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
        return model if isinstance(model, TopicModel) else None
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a stale or broken cache must never stop the bot
        log.warning("topic model cache unreadable, retraining", extra={"error": type(exc).__name__})
        return None


def _save(cache_dir: Path, key: str, model: TopicModel) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("topic-model-*.pickle"):
            old.unlink(missing_ok=True)  # one model per knowledge base is enough
        tmp = _model_path(cache_dir, key).with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(_model_path(cache_dir, key))
    except OSError as exc:
        log.warning("topic model cache not written", extra={"error": type(exc).__name__})
