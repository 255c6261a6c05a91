"""What the web chat does with a post over its rate limits (core/rate_limit.py): no turn, but the hotlines.

A throttled post runs no engine turn and stores nothing (no user, message or ticket), so a
flood cannot fill the staff queue. The answer is built here, without the database, and it
always carries the hotlines: a person in danger who is throttled (e.g. behind the same
address as a flood) still gets the numbers to call at once, and the staff inbox shows that
throttling is going on, with how many of those posts spoke of danger.
"""
from __future__ import annotations

from fastapi import Request

from bot import texts
from core import identity
from core.messages import A_EMERGENCY, OutMessage
from core.rate_limit import web_chat
from knowledge.crisis import detect_crisis
from knowledge.hotlines import hotline_text

THROTTLED = "短い時間にたくさん送られたため、いまは受け付けを止めています。1分ほど待ってから、もう一度送ってください。"
THROTTLED_HOTLINES = "命にかかわるときや、いますぐ誰かと話したいときは、こちらに電話してください。"


def allow(request: Request, token: str | None) -> bool:
    """Counts this post against the per-cookie and per-IP windows; False when it is over a limit."""
    ip = request.client.host if request.client else "unknown"
    return web_chat.allow(cookie_key=identity.user_hash("web", token) if token else None, ip=ip)


def throttled_reply(text: str, action: str) -> list[OutMessage]:
    """The answer to a throttled post (nothing is stored); notes it for the staff inbox."""
    crisis = action == A_EMERGENCY or (bool(text) and detect_crisis(text).is_crisis)
    web_chat.note_throttled(crisis=crisis)
    if crisis:
        return [OutMessage("crisis", texts.CRISIS_INTRO + "\n\n" + hotline_text(), title="いますぐ相談できる電話", urgent=True)]
    return [OutMessage("text", THROTTLED + "\n\n" + THROTTLED_HOTLINES + "\n" + hotline_text())]
