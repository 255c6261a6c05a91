"""Finding a user of the chat by their platform id: the one place that turns it into the lookup key.

Why one function: the platform id is never stored in the clear for lookups, only its keyed hash
(:func:`core.identity.user_hash`); every room that has an id in hand (a webhook, the web chat's
cookie) must hash it the same way and ask the same unique (channel, user_hash) pair.
"""
from __future__ import annotations

from sqlmodel import Session, select

from core import identity
from core.models import ChannelUser


def find_user(session: Session, channel: str, platform_id: str) -> ChannelUser | None:
    """The chat user with this platform id on this channel, or None (at most one: a unique pair)."""
    key = identity.user_hash(channel, platform_id)
    return session.exec(select(ChannelUser).where(ChannelUser.channel == channel, ChannelUser.user_hash == key)).first()
