"""Questions the bot could not answer, read from the messages, and turning them into paraphrases."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from admin.kb.workflow import check_start_draft, do_save_draft, do_start_draft
from admin.kb_models import EntryVersion
from admin.models import StaffUser
from admin.unanswered import INTENT_ABSTAINED, open_tickets
from core.clock import now
from core.models import Message
from knowledge.editorial.clusters import Question
from knowledge.editorial.entries import EntryFields, KbFiles
from knowledge.kb import parse_entry

UNANSWERED_DAYS = 90


def unanswered_questions(session: Session, *, days: int = UNANSWERED_DAYS, limit: int = 2000) -> list[Question]:
    """User messages the bot could not answer: it abstained, or the user then asked for a person.

    "Abstained" is the engine's own mark on its reply (admin.unanswered), outside open hand-off
    tickets; a line written to staff, an intake answer or a place name typed on request is not a
    question the knowledge base failed. Only the message row is read: never the user, their
    pseudonym or the conversation.
    """
    since = now() - timedelta(days=days)
    q = (
        select(Message.id, Message.conversation_id, Message.direction, Message.intent, Message.kind, Message.entry_id, Message.body, Message.created_at)  # type: ignore[call-overload]  # sqlmodel types select() for at most 4 columns
        .where(Message.created_at >= since)
        .order_by(Message.conversation_id, Message.created_at, Message.id)
        .limit(limit * 4)
    )
    rows = session.exec(q).all()
    tickets = open_tickets(session, (r[1] for r in rows))
    found: dict[int, Question] = {}
    last_question: dict[int, tuple] = {}
    last_line: dict[int, tuple] = {}
    for mid, conv, direction, intent, kind, entry_id, body, at in rows:
        if direction == "in":
            last_line[conv] = (mid, body)
            if intent == "handoff":
                prev = last_question.pop(conv, None)
                if prev is not None and prev[0] not in found:
                    found[prev[0]] = Question(prev[0], prev[1], "asked_person", prev[2])
            elif intent == "faq":
                last_question[conv] = (mid, body, entry_id)
            else:
                last_question.pop(conv, None)
        elif intent == INTENT_ABSTAINED:
            line = last_line.pop(conv, None)
            if line is not None and not tickets.covers(conv, at):
                found[line[0]] = Question(line[0], line[1], "abstained", None)
            last_question.pop(conv, None)
        elif kind == "handoff":
            # the 「人と話したい」 button leaves no inbound row; the ticket notice marks it
            prev = last_question.pop(conv, None)
            if prev is not None and prev[0] not in found:
                found[prev[0]] = Question(prev[0], prev[1], "asked_person", prev[2])
    return sorted(found.values(), key=lambda x: -x.message_id)[:limit]


def question_texts(session: Session, message_ids: list[int]) -> list[str]:
    """The stored (consented) texts of unanswered questions, for turning into paraphrases."""
    wanted = {q.message_id: q for q in unanswered_questions(session)}
    texts = []
    for mid in message_ids:
        q = wanted.get(mid)
        if q is not None and q.text:
            text = " ".join(q.text.split())[:200]
            if text not in texts:
                texts.append(text)
    return texts


def do_add_paraphrases(session: Session, editor: StaffUser, files: KbFiles, entry_id: str, texts: list[str]) -> EntryVersion:
    """Adds question texts to an entry's draft (started if needed; precondition: check_start_draft)."""
    row = check_start_draft(session, editor, files, entry_id) or do_start_draft(session, editor, files, entry_id)
    entry = parse_entry(row.text)
    fields = EntryFields.of(entry)
    fields.questions += [t for t in texts if t not in fields.questions]
    do_save_draft(session, editor, row, fields)
    return row
