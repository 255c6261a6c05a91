"""A learned danger signal that can only ADD to the crisis rules, never remove a rule hit.

Why: the reviewed rules (:mod:`knowledge.crisis`) are exact and explainable, but strangers
describe danger in ways no rule anticipates. A logistic regression over the topic model's
features (:func:`knowledge.topic_model.features`), trained on danger lines and harmless
look-alikes from several writers, catches many of those. A message it flags that no rule
flagged is treated as *possible* danger: the person still gets the safety reply at once, and
the bot asks one yes/no check question (the engine's "possible" tier).

Training lines: ``knowledge/corpus/danger*.jsonl`` (``{"text", "danger": true|false}``, one file
per writer) and every line of the topic corpus as harmless. The threshold was chosen by
holding out one writer at a time (``benchmarks/tune_danger.py``), never on an evaluation set.

Tried and dropped (2026-12-02): letting a very low probability overrule a rule hit (an idiom, a
past that is over). It removed a third of the rules' false alarms on two held-out writers, but
on the writer the rules were written from it overruled 54 of 739 real danger lines at 0.2 and
10 at 0.05, and it silenced 「死にたいけど、相談ってお金かかりますか」-style messages. A rule hit
stays a crisis. Also dropped: training on danger lines joined to FAQ questions (so that a
question beside a wish to die keeps its weight): it caught 13 more held-out danger lines in 600
but flagged 5 in 516 ordinary dev-set messages instead of 1. With the fifth writer (same day): counting
each look-alike three times against a topic-corpus line (``LOOKALIKE_WEIGHT``) removed 1–2 false
alarms per held-out writer but lost a danger line and flagged one more ordinary message: kept at 1.
Also not done: the situation groups as model features (they read well, but computing every
group costs ~0.7 ms at the median and ~2.5 ms at p99 per message, half the latency budget).
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
from .lexical import analyze_message
from .linear_fast import FastLinear
from .normalize import Analysis
from .topic_model import FEATURES_VERSION, features, identity, line_features

DANGER_FILE = CORPUS_DIR / "danger.jsonl"  # the first writer's lines; others: danger_<writer>.jsonl
# Chosen with benchmarks/tune_danger.py (2026-12-02), holding out each writer in turn. On the two
# writers the rules were not written from, the rules alone recognised 378/600 danger lines (63 %)
# with 35/600 false alarms (5.8 %); rules or model ≥ 0.7: 520 (86.7 %) with 42 (7.0 %), and at
# most 1 of 516 ordinary dev-set messages flagged; ≥ 0.5 caught 22 more but flagged short
# everyday lines (電話できない) and idioms; ≥ 0.9 (the earlier setting) caught 452.
# Re-checked with a fifth writer (danger_w5, four writers held out in turn, after the situation
# rules grew): ≥ 0.7 still the best trade — held out w2 297/300 danger, 1/300 false alarms; w3
# 282/300, 3/300; w5 298/300, 4/400; 0 of 516 ordinary dev-set messages flagged (1 in the fold
# without the first writer, whose 732 look-alikes then draw 36 model-only alarms: short everyday
# lines naming a medicine, a bridge or a rope — the production model trains on them). ≥ 0.6 caught 1–3 more lines per writer for 2–3 more false alarms each; C
# from 3 to 30 changed a line or two. Letting the model ignore the narrow contexts (everyday use,
# tool use, online ...) gained one line per writer and flagged one more ordinary line: dropped.
THRESHOLD = 0.70
# A short message gives the model little to read: a few words (もう帰ります, もういい わかった,
# 今から仕事行きます) looked like danger to it. Chosen with benchmarks/tune_danger.py (2026-12-02, third
# session; `--flat` shows the other side), five writers held out in turn, the eighth writer's 500
# everyday short lines among them: the model's own additions on messages of at most 14
# characters were 18 danger lines against 64 false alarms at 0.70, and 12 against 19 at 0.90
# (longer messages: 36 against 18). With 0.90 for short messages, held out: w1 false alarms
# 31 → 11 of 732; w8 46 → 23 of 500 (everyday chat); recall w2 297 → 295, w3 283 → 279 of 300
# (「屋上なう」「元夫が来た」 kinds: cryptic and short), w5 298 of 300 unchanged. ≤ 8 characters or
# 0.80–0.85 lost the same danger lines and kept more false alarms. The rules, which catch most
# short danger (死にたい, 消えたい), are not affected.
SHORT_MESSAGE_CHARS = 14
SHORT_THRESHOLD = 0.90

C = 10.0  # inverse regularisation (LogisticRegression); balanced class weights
LOOKALIKE = "lookalike"  # the label of a writer's harmless look-alike (a hard negative)
LOOKALIKE_WEIGHT = 1.0  # how much a look-alike counts against a plain topic-corpus line
LEARNED_ID = "learned"  # the crisis id logged for a model-only flag (never text)


def threshold_for(norm: str) -> float:
    """The probability the learned signal needs for a message (``norm``: its normalised text)."""
    return SHORT_THRESHOLD if len(norm.replace(" ", "")) <= SHORT_MESSAGE_CHARS else THRESHOLD


def danger_files(directory: Path | None = None) -> list[Path]:
    """Every writer's file of danger lines (``danger.jsonl``, ``danger_<writer>.jsonl``), in order."""
    return sorted((directory or CORPUS_DIR).glob("danger*.jsonl"))


def load_danger_lines(path: Path | None = None) -> list[Example]:
    """Labelled lines; raises ValueError naming the line when one is malformed."""
    out: list[Example] = []
    source = path or DANGER_FILE
    if not source.is_file():
        return out
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("text"), str) or not isinstance(row.get("danger"), bool):
            raise ValueError(f"{source}: line {n}: needs \"text\" and \"danger\" (true/false)")
        out.append(Example(row["text"], "danger" if row["danger"] else LOOKALIKE))
    return out


def training_examples(danger_lines: list[Example] | None = None, corpus: list[Example] | None = None) -> list[Example]:
    """The writers' danger lines and look-alikes, plus every topic-corpus line as harmless."""
    if danger_lines is None:
        danger_lines = [ex for path in danger_files() for ex in load_danger_lines(path)]
    if corpus is None:
        corpus = load_corpus()
    return list(danger_lines) + [Example(ex.text, "safe") for ex in corpus]


@dataclass
class DangerModel:
    vectorizer: TfidfVectorizer
    classifier: LogisticRegression

    @classmethod
    def train(cls, examples: list[Example] | None = None, *, cache_dir: Path | None = None) -> DangerModel | None:
        """Train on ``examples`` (default: :func:`training_examples`)."""
        if examples is None:
            examples = training_examples()
        if not any(ex.label == "danger" for ex in examples):
            return None
        key = fingerprint(examples, f"{FEATURES_VERSION} C={C} W={LOOKALIKE_WEIGHT}")
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is None and cache_dir is not None:
            cached = model_cache.load(cache_dir, "danger-model", key, cls)
        if cached is None:
            vectorizer = TfidfVectorizer(analyzer=identity, sublinear_tf=True)
            matrix = vectorizer.fit_transform([line_features(ex.text) for ex in examples])
            classifier = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
            weights = [LOOKALIKE_WEIGHT if ex.label == LOOKALIKE else 1.0 for ex in examples]
            classifier.fit(matrix, [ex.label == "danger" for ex in examples], sample_weight=weights)
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
        a = analysis if analysis is not None else analyze_message(text)
        return self.probability(text, a) >= threshold_for(a.norm)


_LOCK = Lock()
_CACHE: dict[str, DangerModel] = {}
