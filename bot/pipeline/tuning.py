"""The pipeline's limits and tunables, and the retry backoff built on them.

Why an object filled by :func:`configure` and not module constants read from ``os.environ``:
importing the package must not depend on the environment of the moment; the composition
root (``create_app``, ``ristapo worker``) hands over its :class:`core.settings.Settings`
once. The variables keep their names (``RISTAPO_WORKER_POLL_SECONDS``,
``RISTAPO_WORKER_BUSY_POLL_SECONDS``, ``RISTAPO_OUTBOX_LEASE_SECONDS``,
``RISTAPO_RETRY_BASE_SECONDS``, ``RISTAPO_TURN_BATCH``, ``RISTAPO_WORKER_GATHER_SECONDS``); they exist for the crash tests and
operators, not for everyday use. Tests may set an attribute of :data:`TUNING` directly.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

MAX_SEND_ATTEMPTS = 6  # then "dead" and a staff alert
MAX_INBOX_ATTEMPTS = 5  # a poison event stops blocking its user's queue after this
BUSY_WINDOW_SECONDS = 5.0
RETRY_MAX_SECONDS = 600.0
SEND_CONCURRENCY = 32
FINISH_LINGER_SECONDS = 0.005  # outbox: let a few more sends complete before recording them together
# webhook stores: at most one NOTIFY per this interval per process (see wake.notify); below the
# gather window, so a worker that took the notified events goes round after the skipped ones
NOTIFY_COALESCE_SECONDS = 0.005
# webhook group commit (store.py): while requests flow (the last store began this recently), a
# store waits STORE_LINGER_SECONDS for the requests right behind it; a lone request goes at once
STORE_GATHER_AFTER_SECONDS = 0.02
STORE_LINGER_SECONDS = 0.002
GATHER_AFTER_WORK_SECONDS = 0.05  # traffic "flows" if the last work is this recent (else no gathering)
LOADING_AFTER_SECONDS = 1.0  # show a "typing" hint only when the user has already waited


@dataclass
class Tuning:
    """The values the environment may change (defaults = :class:`core.settings.Settings` defaults)."""

    poll_seconds: float = 1.0
    # why a shorter poll after recent work: on SQLite (or without the listener) other
    # processes' commits do not wake this one; while traffic flows, a worker that
    # has just run dry looks again soon instead of sleeping a second
    busy_poll_seconds: float = 0.1
    outbox_lease_seconds: float = 60.0
    retry_base_seconds: float = 5.0
    # why batches: a turn's statements cost more than its thinking, and per batch they run once
    turn_batch: int = 32
    # why gather: while traffic flows, a pass that finds a few events costs its claim, loads,
    # writes and commit for those few; waiting a few ms lets the next pass take more at once.
    # Only after recent work (GATHER_AFTER_WORK_SECONDS): a lone message is taken at once
    gather_seconds: float = 0.01
    # PostgreSQL: LISTEN for other processes' commits (bot/pipeline/listen.py); the poll stays
    listen: bool = True
    listen_url: str | None = field(default=None, repr=False)  # a direct connection for LISTEN (PgBouncer); default: the database's

    @property
    def busy_poll(self) -> float:
        return min(self.busy_poll_seconds, self.poll_seconds)

    @property
    def reply_lease_seconds(self) -> float:
        # why shorter for a row with a live reply token: after a crash, only a retry with the
        # same token, before it expires (≈ 50 s), can tell whether LINE took the reply; a reply
        # call times out after 10 s, and a second worker retrying the same token meanwhile
        # cannot send it twice
        return min(self.outbox_lease_seconds, 15.0)


TUNING = Tuning()


def configure(settings) -> Tuning:
    """Takes the tunables from ``settings`` (a :class:`core.settings.Settings`); returns :data:`TUNING`."""
    TUNING.poll_seconds = settings.worker_poll_seconds
    TUNING.busy_poll_seconds = settings.worker_busy_poll_seconds
    TUNING.outbox_lease_seconds = settings.outbox_lease_seconds
    TUNING.retry_base_seconds = settings.retry_base_seconds
    TUNING.turn_batch = max(1, settings.turn_batch)
    TUNING.gather_seconds = settings.worker_gather_seconds
    TUNING.listen = settings.worker_listen
    TUNING.listen_url = settings.listen_database_url
    return TUNING


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try of something that failed ``attempts`` times (inbox and outbox)."""
    delay = min(TUNING.retry_base_seconds * (2 ** max(attempts - 1, 0)), RETRY_MAX_SECONDS)
    delay *= random.uniform(0.8, 1.2)  # why jitter: many rows failing together must not retry in lockstep
    return max(delay, retry_after or 0.0)
