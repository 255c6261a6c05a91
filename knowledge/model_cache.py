"""Trained models kept on disk between restarts, one file per model name.

Why: training the classifiers costs seconds, most of it in the tokenizer; a service restart
or a second worker process loads the pickled model in a fraction of a second instead. Keyed by
the fingerprint of the training lines, so a changed corpus or knowledge base retrains.
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def path_for(cache_dir: Path, name: str, key: str) -> Path:
    return cache_dir / f"{name}-{key[:24]}.pickle"


def load(cache_dir: Path, name: str, key: str, kind: type[T]) -> T | None:
    """The cached model, or None when absent or unreadable (then the caller trains)."""
    # Why pickle is acceptable: the file lives in the service's own data directory, written by
    # this code, with the same trust as the database beside it; a bad file is retrained.
    try:
        with path_for(cache_dir, name, key).open("rb") as fh:
            model = pickle.load(fh)
        return model if isinstance(model, kind) else None
    except FileNotFoundError:
        return None
    except Exception as exc:  # why: a stale or broken cache must never stop the bot
        log.warning("model cache unreadable, retraining", extra={"model": name, "error": type(exc).__name__})
        return None


def save(cache_dir: Path, name: str, key: str, model: object) -> None:
    """Write atomically, replacing older files of the same model (one per knowledge base)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob(f"{name}-*.pickle"):
            old.unlink(missing_ok=True)
        target = path_for(cache_dir, name, key)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(target)
    except OSError as exc:
        log.warning("model cache not written", extra={"model": name, "error": type(exc).__name__})
