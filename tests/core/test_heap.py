"""The start-up heap is frozen in long-running processes (core/heap.py), and only there.

Why it matters: full garbage collections walked the few hundred thousand start-up objects
with the GIL held (300–700 ms), and that pause was the webhook's p99 under console load
(docs/performance.md). These tests check what the freeze promises: objects alive at start-up
are exempt from later collections, new garbage is still collected, a knowledge reload does
not leave the old knowledge base's reference cycles behind, and tests (which build many apps
in one process) never freeze.
"""
from __future__ import annotations

import gc
import weakref

import pytest

from core import heap


class _Node:
    """A reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def unfrozen_after():
    """Every test here leaves the process as it found it: nothing frozen."""
    assert not heap.is_frozen()
    yield
    gc.unfreeze()


def test_objects_alive_at_freeze_are_exempt_and_new_garbage_is_still_collected(unfrozen_after):
    old = _Node()
    heap.freeze_long_lived()
    new = _Node()
    tracked = {id(o) for o in gc.get_objects()}
    assert id(old) not in tracked  # later collections do not walk it
    assert id(new) in tracked
    gone = weakref.ref(new)
    del new
    gc.collect()
    assert gone() is None


def test_refreeze_frees_a_cycle_that_was_frozen_and_since_dropped(unfrozen_after):
    stale = _Node()
    heap.freeze_long_lived()
    gone = weakref.ref(stale)
    del stale
    gc.collect()
    assert gone() is not None  # frozen: a plain collection leaves it
    heap.refreeze()
    assert gone() is None
    assert heap.is_frozen()


def test_refreeze_does_nothing_in_a_process_that_never_froze(unfrozen_after):
    heap.refreeze()
    assert not heap.is_frozen()


def test_a_knowledge_reload_in_a_frozen_process_frees_the_old_knowledge(tmp_path, unfrozen_after):
    from bot.runtime import Runtime
    from tests.kb_helpers import copy_entries

    rt = Runtime(copy_entries(tmp_path), check_every=0)
    # a cycle through the old knowledge, like the ones its model and entries hold
    rt.knowledge.kb.probe_cycle = _Node()
    rt.knowledge.kb.probe_cycle.kb = rt.knowledge.kb
    heap.freeze_long_lived()
    old = weakref.ref(rt.knowledge.kb)
    rt.reload()
    assert old() is None
    assert rt.knowledge.kb is not None


def _lifespan_freezes(app) -> bool:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        return heap.is_frozen()


def test_serve_freezes_after_start_up_and_tests_do_not(settings, monkeypatch, unfrozen_after):
    from bot.app import create_app

    monkeypatch.setenv("RISTAPO_RUN_WORKERS", "0")
    assert _lifespan_freezes(create_app()) is False  # the default: tests build many apps in one process
    app = create_app()
    app.state.freeze_heap = True  # what `ristapo serve` and `ristapo worker` set
    assert _lifespan_freezes(app) is True


def test_the_serve_command_asks_for_the_freeze(settings, monkeypatch):
    import uvicorn

    from bot import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(freeze=app.state.freeze_heap))
    assert cli.main(["serve", "--port", "0"]) == 0
    assert seen == {"freeze": True}


def test_the_worker_command_asks_for_the_freeze(settings, monkeypatch):
    from bot import worker_cli

    seen = {}

    async def run_workers(worker, **kw):
        seen.update(freeze=worker.freeze_heap)

    monkeypatch.setattr(worker_cli, "run_workers", run_workers)
    assert worker_cli.cmd_worker(worker_cli.argparse.Namespace(inbox=False, outbox=False, once=True)) == 0
    assert seen == {"freeze": True}
