"""Groups of similar unanswered questions, so editors see which answer is missing most."""
from __future__ import annotations

from dataclasses import dataclass

CLUSTER_SIMILARITY = 62  # rapidfuzz WRatio on normalised text; 0..100


@dataclass
class Question:
    message_id: int
    text: str | None  # None: stored without consent, so there is no text to show
    reason: str  # abstained | asked_person
    guess: str | None  # the matcher's best candidate, when it had one


@dataclass
class Cluster:
    questions: list[Question]
    reasons: set[str]

    @property
    def label(self) -> str:
        return self.questions[0].text or ""

    @property
    def message_ids(self) -> list[int]:
        return [q.message_id for q in self.questions]


def cluster_questions(questions: list[Question], *, threshold: int = CLUSTER_SIMILARITY) -> tuple[list[Cluster], int]:
    """Groups similar question texts (biggest group first); returns (clusters, count without text)."""
    from rapidfuzz import fuzz

    from knowledge.normalize import normalize

    clusters: list[tuple[str, Cluster]] = []
    hidden = 0
    for q in questions:
        if not q.text:
            hidden += 1
            continue
        norm = normalize(q.text)
        best, best_score = None, 0.0
        for key, cl in clusters:
            score = fuzz.WRatio(norm, key)
            if score > best_score:
                best, best_score = cl, score
        if best is not None and best_score >= threshold:
            best.questions.append(q)
            best.reasons.add(q.reason)
        else:
            clusters.append((norm, Cluster([q], {q.reason})))
    ordered = sorted((c for _k, c in clusters), key=lambda c: -len(c.questions))
    return ordered, hidden
