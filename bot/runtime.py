"""Process-wide things the engine needs: the knowledge base and matcher, hot-reloaded.

Why a file signature: editors publish by writing entry files (files-first); every process,
however many, notices the change within a second without a restart.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session

from bot import answers
from core import heap
from core.consent_text import current_consent_text, still_valid_from
from core.models import ConsentText
from knowledge.kb import ENTRIES_DIR, KnowledgeBase, load_kb
from knowledge.understand import Understander


@dataclass
class Knowledge:
    kb: KnowledgeBase
    understander: Understander
    signature: str


class Runtime:
    """Holds the current knowledge and reloads it when the entry files change."""

    def __init__(self, entries_dir: Path | None = None, check_every: float = 1.0,
                 model_cache_dir: Path | None = None):
        self.entries_dir = entries_dir or ENTRIES_DIR
        self.check_every = check_every
        self.model_cache_dir = model_cache_dir
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._knowledge = self._load()

    def _signature(self) -> str:
        h = hashlib.sha1()
        for p in sorted(self.entries_dir.glob("*.md")):
            st = p.stat()
            h.update(f"{p.name}:{st.st_mtime_ns}:{st.st_size};".encode())
        return h.hexdigest()

    def _load(self) -> Knowledge:
        sig = self._signature()
        kb = load_kb(self.entries_dir)
        answers.set_short_labels(kb)
        return Knowledge(kb, Understander(kb, model_cache_dir=self.model_cache_dir), sig)

    @property
    def knowledge(self) -> Knowledge:
        now = time.monotonic()
        if now - self._checked_at >= self.check_every:
            with self._lock:
                self._checked_at = now
                if self._signature() != self._knowledge.signature:
                    try:
                        self._knowledge = self._load()
                        heap.refreeze()
                    except Exception:
                        # why keep the old one: a half-written or broken file must not take the bot down
                        import logging

                        logging.getLogger("ristapo.runtime").exception("knowledge reload failed; keeping the previous version")
        return self._knowledge

    def reload(self) -> None:
        with self._lock:
            self._knowledge = self._load()
            self._checked_at = time.monotonic()
            heap.refreeze()


@dataclass(frozen=True)
class ConsentSnapshot:
    """The fields of the newest consent-A text a turn needs (a plain value, safe to share)."""

    version: int
    text: str
    text_hash: str
    valid_from: int = 0  # accepted versions >= this are not asked again (0: only this version)


CONSENT_CACHE_SECONDS = 1.0
_consent_cache: tuple[object, float, ConsentSnapshot] | None = None  # (engine, fetched at, value)


def consent_for_turn(session: Session) -> ConsentSnapshot:
    """:func:`current_consent_text` as a value, cached per process for about a second.

    Why: every turn needs it and it changes a few times a year. A version published by any
    process is seen by every process within :data:`CONSENT_CACHE_SECONDS`; one published
    through this process clears the cache at once (session hooks below).
    """
    global _consent_cache
    bind = session.get_bind()
    cached = _consent_cache
    now = time.monotonic()
    if cached is not None and cached[0] is bind and now - cached[1] < CONSENT_CACHE_SECONDS:
        return cached[2]
    row = current_consent_text(session)
    snap = ConsentSnapshot(row.version, row.text, row.text_hash, still_valid_from(row))
    if row.id is not None and row not in session.new and not session.info.get("ristapo_consent_changed"):
        _consent_cache = (bind, now, snap)
    return snap


def clear_consent_cache() -> None:
    global _consent_cache
    _consent_cache = None


@event.listens_for(Session, "after_flush")
def _note_consent_text(session, _ctx):  # pragma: no cover - trivial
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, ConsentText):
            session.info["ristapo_consent_changed"] = True
            clear_consent_cache()
            return


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _consent_text_settled(session, *_args):  # pragma: no cover - trivial
    if session.info.pop("ristapo_consent_changed", False):
        clear_consent_cache()


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        from core.settings import get_settings

        settings = get_settings()
        kb_dir = getattr(settings, "kb_dir", None)
        # why a cache on disk: training the topic model costs seconds; a restart loads it
        _runtime = Runtime(Path(kb_dir) if kb_dir else None, model_cache_dir=settings.data_dir / "cache")
    return _runtime


def set_runtime(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt
