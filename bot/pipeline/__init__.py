"""The durable pipeline every channel shares: inbox (persist-then-ack) and outbox delivery.

Webhook routes call :func:`store_and_ack` (or :func:`store_events`) and answer 200; nothing
else happens in the request. The **inbox worker** runs the users' engine turns and marks
their events done in one transaction; the **delivery worker** sends due outbox rows through
the channel adapters, idempotently. Works on SQLite (conditional UPDATE claims; writes
serialise) and PostgreSQL (``FOR UPDATE SKIP LOCKED``; any number of ``ristapo worker``
processes). Workers wake at once when this process commits new work (:func:`poke`), on
PostgreSQL also when another process does (LISTEN/NOTIFY, ``listen``), and poll as a fallback.

One job per module:

- ``registry``: the channel adapters of this process;
- ``tuning``: limits, the tunables from :class:`core.settings.Settings`, the retry backoff;
- ``wake``: wake-ups (:func:`poke`) and the session hooks, registered by :func:`configure`;
- ``store``: storing webhook events (group commit);
- ``inbox`` + ``turns``: claiming events and running their turns in batches;
- ``outbox``: claiming, delivering and recording outbox rows (the reply-token rules);
- ``listen``: PostgreSQL LISTEN, relaying other processes' commits as pokes;
- ``loops``: the worker loops and their wiring (:func:`install`, :func:`configure`);
- ``warm``: a long-running worker's first turns, done before it takes traffic.

Importing the package changes nothing process-wide: the composition root calls
:func:`install` (``create_app``) or :func:`configure` (``ristapo worker``).
"""
from __future__ import annotations

from bot.pipeline.inbox import process_inbox_batch, run_inbox_once
from bot.pipeline.loops import configure, inbox_loop, install, listen_loop, outbox_loop
from bot.pipeline.outbox import SendJob, claim_outbox, deliver, finish_and_claim, finish_jobs, run_outbox_once
from bot.pipeline.registry import get_adapter, register_adapter, unregister_adapter, worker_channels
from bot.pipeline.store import store_and_ack, store_events
from bot.pipeline.tuning import BUSY_WINDOW_SECONDS, MAX_INBOX_ATTEMPTS, MAX_SEND_ATTEMPTS, SEND_CONCURRENCY, TUNING
from bot.pipeline.wake import poke, poke_inbox, poke_outbox
from bot.pipeline.warm import warm_up

__all__ = [
    "BUSY_WINDOW_SECONDS", "MAX_INBOX_ATTEMPTS", "MAX_SEND_ATTEMPTS", "SEND_CONCURRENCY", "TUNING",
    "SendJob", "claim_outbox", "configure", "deliver", "finish_and_claim", "finish_jobs", "get_adapter", "inbox_loop", "install", "listen_loop",
    "outbox_loop", "poke", "poke_inbox", "poke_outbox", "process_inbox_batch", "register_adapter",
    "run_inbox_once", "run_outbox_once", "store_and_ack", "store_events", "unregister_adapter", "warm_up", "worker_channels",
]
