"""Rate limits on the anonymous web chat, and a short record of throttling for the staff inbox.

Why: anyone can post to ``/chat`` without an account, and every new cookie is a new person
with their own hand-off; a script once opened 40 crisis tickets in 0.8 s. Three moving
windows (the ``limits`` library) bound that: posts per cookie, posts per IP, and new
conversations (posts without a cookie) per IP. A throttled post runs no turn and stores
nothing, but its answer always carries the hotlines (bot/channels/web/throttle.py).

Why in core: the web chat (bot/) throttles and the staff inbox (admin/) shows that a burst is
being throttled; rooms import inward only.

The counters live in this process's memory: with several ``ristapo serve`` processes each
counts on its own (a limit is then per process), and a restart forgets them. Keys are a
keyed hash of the cookie and the IP address as the server saw it; neither is logged.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

PER_COOKIE = parse("20 per minute")  # a person pressing buttons quickly stays well below
PER_IP = parse("60 per minute")  # several people behind one address (a shelter's Wi-Fi)
NEW_CONVERSATIONS_PER_IP = parse("10 per 10 minutes")  # posts without a cookie start a new person
NOTICE_WINDOW_SECONDS = 600.0  # the staff inbox shows throttling of the last ten minutes


@dataclass(frozen=True)
class Throttling:
    """What the staff inbox shows: throttled posts in the last window, and how many spoke of danger."""

    posts: int
    crisis: int


class WebChatLimits:
    """The limits of one process. :meth:`allow` counts a post; :meth:`recent` is for staff."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._throttled: deque[tuple[float, bool]] = deque(maxlen=10_000)
        self._lock = threading.Lock()

    def allow(self, *, cookie_key: str | None, ip: str) -> bool:
        """Counts one post; False when any window is full (then nothing of it may be stored)."""
        checks = [(PER_IP, "ip", ip)]
        if cookie_key is None:
            checks.append((NEW_CONVERSATIONS_PER_IP, "new", ip))
        else:
            checks.append((PER_COOKIE, "cookie", cookie_key))
        # why all, not stop at the first full one: every window counts the post it saw
        return all([self._limiter.hit(item, kind, key) for item, kind, key in checks])

    def note_throttled(self, *, crisis: bool) -> None:
        with self._lock:
            self._throttled.append((time.monotonic(), crisis))

    def recent(self, window: float = NOTICE_WINDOW_SECONDS) -> Throttling:
        since = time.monotonic() - window
        with self._lock:
            recent = [crisis for at, crisis in self._throttled if at >= since]
        return Throttling(posts=len(recent), crisis=sum(recent))

    def reset(self) -> None:
        """Forgets every count (tests)."""
        self._limiter.storage.reset()
        with self._lock:
            self._throttled.clear()


web_chat = WebChatLimits()
