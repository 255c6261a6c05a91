"""Warming a worker process before it takes traffic: what its first turns would do under load.

Why: in a fresh process the first batch of turns loaded lazy tables (the place names, ≈ 0.2 s
of YAML), compiled statements, and published the packaged consent text. That insert came in
the middle of the batch, so on SQLite the write lock was held through the rest of the batch's
turns (258–375 ms), and every webhook of a burst arriving meanwhile waited for it
(docs/performance.md, 2026-12-02, fourth session). Done here, before the heap is frozen
(core/heap.py), the cost falls at start-up and the tables join the frozen generation.
"""
from __future__ import annotations

import contextlib
import logging
import time

from bot import engine
from bot.runtime import consent_for_turn, get_runtime
from bot.states import DialogueState
from bot.turn_types import ConversationView, EngineContext
from core import db
from core.messages import Inbound

log = logging.getLogger("ristapo.pipeline")

WARM_ENTRIES = 12  # dry turns on the first question of this many entries (enough to reach every lazy table)


def warm_up() -> None:
    """Publishes the consent text (its own transaction) and runs dry engine turns (no database).

    Blocking (run it in a thread). A failure is logged and ignored: warming is an optimisation.
    """
    started = time.perf_counter()
    try:
        with db.session_scope() as session:
            consent = consent_for_turn(session)
        knowledge = get_runtime().knowledge
        ctx = EngineContext(knowledge.kb, knowledge.understander, consent.version, consent.text,
                            consent_valid_from=consent.valid_from or None)
        view = ConversationView(state=DialogueState.READY, consent_version=consent.version)
        # why the knowledge base's own questions: they take the answering paths real messages take
        questions = [entry.questions[0] for entry in knowledge.kb if entry.questions][:WARM_ENTRIES]
        for text in questions:
            with contextlib.suppress(Exception):
                engine.turn(view, Inbound(kind="text", text=text), ctx)
    except Exception:
        log.exception("warming up the worker failed; the first turns will do it")
        return
    log.info("worker warmed up", extra={"turns": len(questions), "ms": round((time.perf_counter() - started) * 1000)})
