"""The editor's preview of an entry: exactly what the bot sends, as LINE and the web chat show it.

The console does not build the answer itself (it would drift from the engine): the composition
root (bot/app.py) puts an :data:`AnswerPreviewer` on ``app.state.answer_preview``, which runs the
engine's own answer for the entry and renders it for LINE.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from core.messages import OutMessage
from knowledge.kb import Entry


@dataclass(frozen=True)
class AnswerPreview:
    """What the bot sends when it answers with one entry."""

    messages: list[OutMessage]
    line: list[dict] | None = None  # the LINE message objects for them (None: no LINE renderer)


AnswerPreviewer = Callable[[Entry], AnswerPreview]


def preview_context(request: Request, entry: Entry) -> dict:
    """The template values of ``console/kb/_preview.html`` for ``entry`` (draft or published)."""
    preview: AnswerPreview = request.app.state.answer_preview(entry)
    return {"items": [{"who": "bot", "msg": m} for m in preview.messages], "line": preview.line, "answer_chars": len(entry.answer)}
