"""PostgreSQL LISTEN/NOTIFY: another process's commit wakes this process's workers at once.

A commit that adds inbox or outbox work sends ``NOTIFY ristapo_inbox`` / ``ristapo_outbox``
inside its own transaction (:func:`bot.pipeline.wake.notify`), so PostgreSQL delivers it
only if and when the transaction commits. Each worker process (``ristapo serve`` with
workers, ``ristapo worker``) keeps one dedicated connection that LISTENs on both channels
and turns each notification into a :func:`~bot.pipeline.wake.poke`.

Why: without it a worker in another process than the webhook's finds new work only when it
polls (0.1 s while busy, 1 s idle), so an idle deployment answered up to a second late. The
poll stays as the fallback: if the listening connection is lost, the workers poll as before
while it reconnects with backoff. The notifications carry no payload (nothing about users).

Needs no setup. A connection pooler in transaction mode (PgBouncer) does not forward LISTEN:
point ``RISTAPO_LISTEN_DATABASE_URL`` at the database directly. ``RISTAPO_WORKER_LISTEN=0``
turns the listener off (polling only). SQLite: nothing of this (one process writes).
"""
from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy.engine import make_url

from bot.pipeline.tuning import TUNING
from bot.pipeline.wake import CHANNELS, poke
from core import db

log = logging.getLogger("ristapo.pipeline")

KEEPALIVE_SECONDS = 30.0  # why: a half-open TCP connection shows only when something is sent
RECONNECT_MAX_SECONDS = 30.0
_KINDS = {channel: kind for kind, channel in CHANNELS.items()}
_state: dict[str, bool] = {"listening": False}


def listening() -> bool:
    """True while this process holds a LISTENing connection (tests, diagnostics)."""
    return _state["listening"]


def wanted() -> bool:
    """Whether this process should listen: PostgreSQL, and not turned off."""
    return TUNING.listen and db.engine().dialect.name == "postgresql"


def _conninfo() -> str:
    """The libpq URL of the listening connection (psycopg, without SQLAlchemy's driver name)."""
    url = make_url(TUNING.listen_url) if TUNING.listen_url else db.engine().url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_forever() -> None:
    """LISTENs on the pipeline's channels and pokes the workers; reconnects with backoff, forever."""
    import psycopg

    delay = 1.0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as conn:
                for channel in CHANNELS.values():
                    await conn.execute(f"LISTEN {channel}")
                _state["listening"] = True
                delay = 1.0
                log.info("listening for other processes' commits")
                poke("inbox")  # work committed while nobody listened
                poke("outbox")
                await _relay(conn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # why the type only: a driver message may name the host and user; no body is involved
            log.warning("pipeline listener lost its connection; polling until it is back", extra={"error_type": type(exc).__name__})
        finally:
            _state["listening"] = False
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)


async def _relay(conn) -> None:
    """Pokes the workers for each notification; checks the connection when all is quiet."""
    while True:
        async for note in conn.notifies(timeout=KEEPALIVE_SECONDS):
            kind = _KINDS.get(note.channel)
            if kind is not None:
                poke(kind)
        await conn.execute("SELECT 1")  # raises on a dead connection: reconnect
