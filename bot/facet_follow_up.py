"""「いつまで？」「おかねは かかるん？」 right after an answer: the answer's own facet.

Why a step of its own: people ask about what they were just told without naming it again.
Classified alone, 「お金かかる？」 fits the entry on the cost of consulting best, so a person
who had just read about 更生保護施設 was told that consulting is free — true, but not what
they asked. When the message names nothing but a facet (:func:`knowledge.facets.follow_up_facet`)
and the entry answered last holds that facet, that facet is the answer. Otherwise the
classifier decides as usual, so nothing is invented for an entry without the facet.
"""
from __future__ import annotations

from bot import answers
from bot.turn_types import ConversationView, EngineContext, TurnResult
from knowledge.facets import follow_up_facet
from knowledge.normalize import normalize
from knowledge.understand import Understanding

# Intents that are about the conversation, not a question: never read as a follow-up.
_NOT_A_QUESTION = ("crisis", "handoff", "menu", "greeting", "thanks", "delete_data")


def facet_follow_up(view: ConversationView, ctx: EngineContext, und: Understanding, text: str) -> TurnResult | None:
    """The last entry's facet for a bare facet question, or None to let the classifier decide."""
    if und.intent in _NOT_A_QUESTION:
        return None
    entry = ctx.kb.get(view.pending.get("last_entry") or "")
    if entry is None or not entry.facets:
        return None
    facet = follow_up_facet(normalize(text))
    if facet is None or facet not in entry.facets:
        return None
    return answers.answer(view, entry, und, None, facet_alone=facet)
