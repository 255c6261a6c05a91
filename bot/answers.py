"""How the bot answers with an entry: the answer message, its facet, readings and button labels.

Why a module of its own: the engine decides *what* to do with a message; building the answer
(facet first, related entries as buttons that fit LINE, the place question, ふりがな) is one job
that the engine, the facet follow-up and the editors' preview share.
"""
from __future__ import annotations

import re
from dataclasses import replace

from bot import texts
from bot.turn_types import ConversationView, EngineContext, Event, TurnResult
from core.messages import A_ENTRY, A_FURIGANA, Button, OutMessage
from knowledge.furigana import as_parentheses
from knowledge.kb import Entry, KnowledgeBase
from knowledge.places import find_place, format_offices, offices_for
from knowledge.understand import Understanding


def with_readings(view: ConversationView, ctx: EngineContext) -> TurnResult:
    """The last answer again with readings: 更生緊急保護(こうせいきんきゅうほご).

    Why: many people read kanji with difficulty, and the words they must say at a counter are
    the hardest ones; the reading goes right after the word so that it works on every channel.
    """
    entry = ctx.kb.get(view.pending.get("last_entry") or "")
    if entry is None:
        return TurnResult(view, [OutMessage("text", texts.FURIGANA_NOTHING, quick_replies=texts.common_quick_replies())], [])
    readings = getattr(entry, "readings", None) or {}
    out = OutMessage("answer", as_parentheses(entry.answer, readings), title=as_parentheses(entry.title, readings),
                     quick_replies=texts.common_quick_replies(), entry_id=entry.id, entry_version=entry.version)
    return TurnResult(view, [out], [Event("intent", {"intent": "furigana"})])


def answer(view: ConversationView, entry: Entry, und: Understanding | None, text: str | None,
           *, facet_alone: str | None = None) -> TurnResult:
    """The answer with ``entry``; ``facet_alone``: only that facet (a follow-up question about it)."""
    related = [Button(short(e), A_ENTRY + e) for e in entry.related[:3]]
    facet = (getattr(entry, "facets", None) or {}).get(und.facet) if und and und.facet else None
    body = entry.facets[facet_alone] if facet_alone else f"{facet}\n\n{entry.answer}" if facet else entry.answer
    out = [
        OutMessage(
            "answer",
            # why the facet first: the person asked one thing (いつまで, 前科があっても); the
            # general text follows for the rest
            body,
            title=entry.title,
            source_line=entry.source_line(),
            buttons=related,
            quick_replies=texts.common_quick_replies(),
            entry_id=entry.id,
            entry_version=entry.version,
        )
    ]
    pending = {**view.pending, "last_entry": entry.id}
    out[0].quick_replies = [Button(texts.FURIGANA_LABEL, A_FURIGANA)] + out[0].quick_replies
    if entry.needs_place and not facet_alone:
        place = find_place(text or "")
        if place is not None:
            out.append(OutMessage("text", format_offices(offices_for(place)), quick_replies=texts.common_quick_replies()))
        else:
            # the entry's own last line asks for the place (kb check enforces it); remember to listen
            pending["place_for"] = entry.id
    events = [Event("answered", {"entry_id": entry.id, "version": entry.version, "score": und.score if und else None})]
    return TurnResult(replace(view, pending=pending), out, events, und)


def answer_messages(entry: Entry) -> list[OutMessage]:
    """What the bot sends when it answers with ``entry`` (the editors' preview shows exactly this)."""
    return answer(ConversationView(), entry, None, None).out


_SHORT_LABELS: dict[str, str] = {}


def short(entry_id: str) -> str:
    """A button label for a related entry (LINE: ≤ 20 chars)."""
    return _SHORT_LABELS.get(entry_id, entry_id)


LABEL_LIMIT = 20  # LINE cuts quick-reply and button labels at 20 characters


def short_label(title: str, limit: int = LABEL_LIMIT) -> str:
    """A title that fits a button: drop a trailing 「(…)」 first, then cut with 「…」.

    Why: a plain cut left labels such as 「市町村のまるごと相談(重層的支援体制整備」 with an open
    bracket; the bracket usually only explains, so the words before it read better alone.
    """
    if len(title) <= limit:
        return title
    bare = re.sub(r"\s*[(（][^()（）]*[)）]$", "", title)
    if bare and len(bare) <= limit:
        return bare
    return bare[: limit - 1] + "…"


def set_short_labels(kb: KnowledgeBase) -> None:
    for e in kb:
        _SHORT_LABELS[e.id] = short_label(e.title)
