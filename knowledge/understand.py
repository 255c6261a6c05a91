"""Understand one message: crisis floor → intents → FAQ matcher → abstain.

``Understander(kb).classify(text) -> Understanding``. The order is fixed and safety-first:

1. the crisis lexicon (:mod:`knowledge.crisis`) — never overridden by anything below;
2. intent rules (:mod:`knowledge.intents`), unless the message also asks a real question that
   the knowledge base answers confidently (「ありがとう、ところで〜は?」 is FAQ);
3. the FAQ matcher over the published entries (:mod:`knowledge.lexical`);
4. ``none`` when the best FAQ score is below :data:`THRESHOLD` — the bot must not pretend.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .crisis import CrisisLexicon, default_lexicon
from .intents import asks_legal_advice, looks_like_question, match_intent
from .kb import KnowledgeBase
from .lexical import THRESHOLD, LexicalMatcher, Synonyms
from .normalize import normalize

INTENTS = ("faq", "handoff", "crisis", "delete_data", "greeting", "thanks", "menu", "none")

OVERRIDE_THRESHOLD = 0.50  # a question next to a courtesy must be at least this clear
N_CANDIDATES = 3


@dataclass
class Understanding:
    intent: str
    topic: str | None
    score: float
    candidates: list[str] = field(default_factory=list)
    crisis_id: str | None = None


class Understander:
    """Classifies messages against one knowledge base; construct a new one to rebuild."""

    def __init__(self, kb: KnowledgeBase, *, synonyms: Synonyms | None = None,
                 lexicon: CrisisLexicon | None = None) -> None:
        self.kb = kb
        self.lexicon = lexicon or default_lexicon()
        self.lexical = LexicalMatcher(kb, synonyms=synonyms)

    rebuild = __init__  # ``understander.rebuild(kb)`` re-indexes in place

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Entries ordered by lexical score (0..1), best first."""
        return self.lexical.rank(text)

    def classify(self, text: str) -> Understanding:
        """Decide what ``text`` is: crisis, an intent, an FAQ entry, or none."""
        norm = normalize(text or "")
        crisis = self.lexicon.check(text or "", normalized=norm)
        if crisis.is_crisis:
            # Why first and final: a person in danger must get the hotlines even if the same
            # message also quotes an FAQ title or says thank you.
            return Understanding("crisis", None, 1.0, [], crisis.crisis_id)
        if not norm:
            return Understanding("none", None, 0.0, [])
        intent = match_intent(norm)
        if intent is not None:
            rest = intent.residue
            if len(rest) >= 3:
                courtesy = intent.intent in ("greeting", "thanks")
                if courtesy or looks_like_question(text, rest):
                    ranked = self.rank(rest)
                    if ranked and ranked[0][1] >= OVERRIDE_THRESHOLD:
                        return self._faq(ranked)
            return Understanding(intent.intent, None, 1.0, [])
        ranked = self.rank(text)
        # Legal advice and predictions (執行猶予つく?, 弁護士の紹介) share words with the FAQ but
        # are not answered by it: abstain rather than pretend.
        if not ranked or ranked[0][1] < THRESHOLD or asks_legal_advice(norm):
            return Understanding("none", None, round(ranked[0][1], 3) if ranked else 0.0,
                                 [i for i, _ in ranked[:N_CANDIDATES]])
        return self._faq(ranked)

    @staticmethod
    def _faq(ranked: list[tuple[str, float]]) -> Understanding:
        return Understanding("faq", ranked[0][0], round(ranked[0][1], 3), [i for i, _ in ranked[:N_CANDIDATES]])
