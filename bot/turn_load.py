"""Loading a turn's rows: the person (created on first contact), their open conversation and
ticket — one at a time for a single turn, or for a whole batch of users in a few statements.

Why apart from :mod:`bot.service`: the inbox worker loads and creates users for a batch before
any turn runs (bot/pipeline/turns.py); the service only needs the rows. Re-exported by the
service, where callers have always found these functions.
"""
from __future__ import annotations

import functools

from sqlalchemy import and_, bindparam, insert
from sqlmodel import Session, col, select

from bot.states import DialogueState
from core import identity
from core.clock import now
from core.models import ChannelUser, Conversation
from core.rows import saved_id
from core.users import find_user
from handoff.models import OPEN_STATES, Ticket


def get_or_create_user(session: Session, channel: str, platform_id: str) -> ChannelUser:
    user = find_user(session, channel, platform_id)
    if user is None:
        user = _new_user(session, channel, platform_id, identity.user_hash(channel, platform_id))
    elif not user.active:
        user.active = True
        session.add(user)
    return user


def _new_user(session: Session, channel: str, platform_id: str, key: str) -> ChannelUser:
    user = ChannelUser(channel=channel, user_hash=key, platform_id=platform_id, pseudonym=identity.new_pseudonym())
    session.add(user)
    session.flush()
    return user


def get_open_conversation(session: Session, user: ChannelUser) -> Conversation:
    conv = session.exec(
        select(Conversation).where(Conversation.user_id == user.id, Conversation.closed == False)  # noqa: E712
    ).first()
    if conv is None:
        conv = _new_conversation(session, user)
    return conv


def _new_conversation(session: Session, user: ChannelUser) -> Conversation:
    conv = Conversation(user_id=saved_id(user), state=DialogueState.NEW.value)
    session.add(conv)
    session.flush()
    return conv


@functools.cache
def _insert(model):
    """INSERT of whole rows into ``model``'s table, built once (run with a list: executemany).

    Measured: a multi-row VALUES statement instead cost more Python (compiled per batch size)
    than it saved PostgreSQL; SQLite's executemany is a C loop anyway.
    """
    return insert(model.__table__)


@functools.cache
def _turn_statements() -> dict:
    """Statements built once (building SQLAlchemy expressions costs more than running them)."""
    return {
        # the user, their open conversation and its open ticket in one round trip
        "load": select(ChannelUser, Conversation, Ticket)
        .outerjoin(Conversation, and_(col(Conversation.user_id) == col(ChannelUser.id), col(Conversation.closed) == False))  # noqa: E712
        .outerjoin(Ticket, and_(col(Ticket.conversation_id) == col(Conversation.id), col(Ticket.state).in_(OPEN_STATES)))
        .where(col(ChannelUser.channel) == bindparam("channel"), col(ChannelUser.user_hash) == bindparam("key"))
        .order_by(col(Conversation.id), col(Ticket.id))
        .limit(1),
        "load_many": select(ChannelUser, Conversation, Ticket)
        .outerjoin(Conversation, and_(col(Conversation.user_id) == col(ChannelUser.id), col(Conversation.closed) == False))  # noqa: E712
        .outerjoin(Ticket, and_(col(Ticket.conversation_id) == col(Conversation.id), col(Ticket.state).in_(OPEN_STATES)))
        .where(col(ChannelUser.channel) == bindparam("channel"), col(ChannelUser.user_hash).in_(bindparam("keys", expanding=True)))
        .order_by(col(ChannelUser.id), col(Conversation.id), col(Ticket.id)),
    }


Loaded = tuple[ChannelUser, "Conversation | None", "Ticket | None"]


def _load_turn(session: Session, channel: str, platform_id: str, got: Loaded | None = None) -> tuple[ChannelUser, Conversation, Ticket | None]:
    """What :func:`get_or_create_user` + :func:`get_open_conversation` + the open ticket give, in one query.

    ``got`` is what :func:`load_turns` already found for this user (then no query runs here).
    """
    key = identity.user_hash(channel, platform_id)
    if got is None:
        got = session.execute(_turn_statements()["load"], {"channel": channel, "key": key}).first()
    if got is None:  # a new user: the query above has just shown there is no such row
        user = _new_user(session, channel, platform_id, key)
        return user, _new_conversation(session, user), None
    user, conv, ticket = got
    if not user.active:
        user.active = True
        session.add(user)
    if conv is None:  # the outer join found no open conversation
        conv = _new_conversation(session, user)
    return user, conv, ticket


def load_turns(session: Session, channel: str, platform_ids: list[str]) -> dict[str, Loaded]:
    """:func:`_load_turn`'s query for many users of one channel at once: platform id → (user, conversation, ticket).

    Users not in the result are new (or unknown): :func:`handle_inbound` creates them as usual.
    Per user the first row wins, in the same order as the single query (conversation id, ticket id).
    """
    keys = {identity.user_hash(channel, pid): pid for pid in platform_ids}
    if not keys:
        return {}
    stmt = _turn_statements()["load_many"]
    found: dict[str, Loaded] = {}
    for user, conv, ticket in session.execute(stmt, {"channel": channel, "keys": list(keys)}):
        pid = keys.get(user.user_hash)
        if pid is not None and pid not in found:
            found[pid] = (user, conv, ticket)
    return found


def create_users(session: Session, channel: str, platform_ids: list[str]) -> dict[str, Loaded]:
    """New users of one channel, each with an open conversation, in two statements (for a batch of turns).

    The same rows :func:`_new_user` and :func:`_new_conversation` make one at a time; the
    caller has just seen (with :func:`load_turns`) that these users do not exist.
    """
    if not platform_ids:
        return {}
    at = now()
    users = session.scalars(
        insert(ChannelUser).returning(ChannelUser, sort_by_parameter_order=True),
        [
            dict(channel=channel, user_hash=identity.user_hash(channel, pid), platform_id=pid,
                 pseudonym=identity.new_pseudonym(), active=True, is_demo=False, created_at=at)
            for pid in platform_ids
        ],
    ).all()
    convs = session.scalars(
        insert(Conversation).returning(Conversation, sort_by_parameter_order=True),
        [
            dict(user_id=u.id, state=DialogueState.NEW.value, consent_version=None, consent_declined=False, context=None,
                 current_ticket_id=None, closed=False, started_at=at, last_activity_at=at)
            for u in users
        ],
    ).all()
    return {pid: (u, c, None) for pid, u, c in zip(platform_ids, users, convs, strict=False)}
