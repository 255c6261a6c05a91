"""What the inbox worker's turns share: interpreting stored events, their users, side effects.

bot/pipeline/inbox.py takes the events and owns the transactions; this module only reads
and writes inside the transaction it is given (except :func:`register_new_users`, which
is a transaction of its own on purpose).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select
from sqlmodel import Session, col

from bot.channels.base import Interpreted
from bot.models import InboxEvent
from bot.pipeline.registry import get_adapter
from bot.pipeline.tuning import LOADING_AFTER_SECONDS
from core import clock, db, identity
from core.models import ChannelUser, Conversation, Message
from core.rows import saved_id

log = logging.getLogger("ristapo.pipeline")


def interpret(channel: str, payload: str | None) -> Interpreted | None:
    adapter = get_adapter(channel)
    return adapter.to_inbound(payload) if adapter is not None and payload is not None else None


def _users_by_channel(rows, interpreted: dict[int, Interpreted | None]) -> dict[str, list[str]]:
    """The platform ids of the users whose messages these rows are, per channel (each once)."""
    out: dict[str, dict[str, None]] = {}
    for row in rows:
        it = interpreted.get(row.id)
        if it is not None and it.inbound is not None and it.platform_user_id:
            out.setdefault(row.channel, {})[it.platform_user_id] = None
    return {channel: list(pids) for channel, pids in out.items()}


def register_new_users(event_ids: list[int]) -> dict[int, Interpreted | None]:
    """SQLite: creates the not-yet-known users of these events (and their first conversation), committed.

    Why a transaction of its own, before the batch: on SQLite a write holds the database's only
    write lock until the commit, and a batch's first write would otherwise be these users,
    so every webhook arriving during the batch's turns would wait for the whole batch. A user
    row with an empty conversation is what a first turn starts from anyway; if the turn then
    fails, it is retried from there. Returns the events' interpretation for the batch to reuse.
    """
    from bot.service import create_users, load_turns

    with db.session_scope() as session:
        rows = session.execute(
            select(col(InboxEvent.id), col(InboxEvent.channel), col(InboxEvent.payload)).where(col(InboxEvent.id).in_(event_ids), col(InboxEvent.state) == "pending")
        ).all()
        interpreted = {row.id: interpret(row.channel, row.payload) for row in rows}
        for channel, pids in _users_by_channel(rows, interpreted).items():
            found = load_turns(session, channel, pids)
            create_users(session, channel, [pid for pid in pids if pid not in found])
    return interpreted


class TurnBatch:
    """What the turns of one batch share: their users' rows (loaded at once) and their writes.

    Why: a turn's own statements (load the user, insert the transcript and outbox rows, mark
    the event done, commit) cost more than its thinking; per batch they run once.
    """

    def __init__(self, session: Session, rows: list[InboxEvent], interpreted: dict[int, Interpreted | None] | None = None) -> None:
        from bot.service import TurnWrites, create_users, load_turns

        self.writes = TurnWrites(deferred=True)
        self.done: list[tuple[int, bool]] = []
        known = interpreted or {}
        ids = [saved_id(row) for row in rows]
        self.interpreted = {rid: known[rid] if rid in known else interpret(row.channel, row.payload) for rid, row in zip(ids, rows, strict=True)}
        self.loaded: dict[tuple[str, str], tuple] = {}
        for channel, pids in _users_by_channel(rows, self.interpreted).items():
            found = load_turns(session, channel, pids)
            # new users are created here on PostgreSQL (their events are locked by this worker);
            # on SQLite normally none are left (see register_new_users)
            found.update(create_users(session, channel, [pid for pid in pids if pid not in found]))
            self.loaded.update({(channel, pid): got for pid, got in found.items()})

    def write(self, session: Session) -> None:
        """Writes the collected rows (the caller then marks every event of :attr:`done` done)."""
        self.writes.flush(session)
        session.flush()


def _find_user(session: Session, channel: str, platform_id: str) -> ChannelUser | None:
    key = identity.user_hash(channel, platform_id)
    return session.execute(
        select(ChannelUser).where(col(ChannelUser.channel) == channel, col(ChannelUser.user_hash) == key)
    ).scalar_one_or_none()


def has_consent(session: Session, user: ChannelUser | None) -> bool:
    if user is None:
        return False
    got = session.execute(
        select(col(Conversation.id)).where(
            col(Conversation.user_id) == user.id, col(Conversation.closed) == False, col(Conversation.consent_version).is_not(None)  # noqa: E712
        )
    ).first()
    return got is not None


def apply_side_effect(session: Session, channel: str, it: Interpreted, row: InboxEvent) -> ChannelUser | None:
    effect = it.side_effect or ""
    user = _find_user(session, channel, it.platform_user_id) if it.platform_user_id else None
    if effect == "unfollow" and user is not None:
        # why not erase: blocking is not a deletion request; retention removes the rest in time
        user.active = False
        session.add(user)
    elif effect.startswith("unsend:") and user is not None:
        message_id = effect.split(":", 1)[1]
        conv_ids = select(col(Conversation.id)).where(col(Conversation.user_id) == user.id)
        for msg in session.execute(
            select(Message).where(col(Message.external_id) == message_id, col(Message.conversation_id).in_(conv_ids))
        ).scalars():
            session.delete(msg)
        _erase_unsent_payload(session, channel, row, message_id)
    elif effect not in ("", "ignore", "group", "unfollow") and not effect.startswith("unsend:"):
        log.info("inbox event acknowledged without action", extra={"channel": channel, "kind": effect[:20]})
    return user


def _erase_unsent_payload(session: Session, channel: str, row: InboxEvent, message_id: str) -> None:
    """The stored raw event of an unsent message still holds its text: erase that payload too."""
    adapter = get_adapter(channel)
    for other in session.execute(
        select(InboxEvent).where(
            col(InboxEvent.channel) == channel, col(InboxEvent.user_key) == row.user_key, col(InboxEvent.payload).is_not(None), col(InboxEvent.id) != row.id
        )
    ).scalars():
        try:
            it = adapter.to_inbound(other.payload) if adapter else None
        except Exception:
            continue
        if it is not None and it.inbound is not None and it.inbound.external_id == message_id:
            other.payload = None
            session.add(other)



def maybe_loading(row: InboxEvent, loop: asyncio.AbstractEventLoop | None, it: Interpreted | None = None) -> None:
    """Asks the adapter for a typing/loading hint when the user has been waiting a while."""
    if loop is None or row.payload is None or row.event_time is None:
        return
    if (clock.now() - row.event_time).total_seconds() < LOADING_AFTER_SECONDS:
        return
    adapter = get_adapter(row.channel)
    hint = getattr(adapter, "show_processing", None)
    if adapter is None or hint is None:
        return
    if it is None:
        try:
            it = adapter.to_inbound(row.payload)
        except Exception:
            return
    if it is None or it.inbound is None or it.inbound.kind != "text":
        return
    with contextlib.suppress(RuntimeError):
        asyncio.run_coroutine_threadsafe(hint(it.platform_user_id), loop)
