"""What ``/healthz`` checks besides the database: room on the disk of the data directory.

Why: on a full disk SQLite still answers ``SELECT 1`` while every webhook insert fails, so a
health check that only pings the database says "ok" to a service that loses nothing only
because the platforms redeliver. Two checks, both cheap enough for every probe: free space
against ``RISTAPO_HEALTH_MIN_FREE_MB``, and a one-byte test write (create, write, delete).
"""
from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def write_probe(path: Path) -> None:
    """Creates, writes and removes a small file in ``path``; raises OSError when it cannot."""
    probe = path / f".healthz-{secrets.token_hex(4)}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


def disk_problem(data_dir: Path, min_free_mb: int) -> str | None:
    """None when the data directory is writable with room to spare, else a short reason code."""
    try:
        if free_bytes(data_dir) < min_free_mb * 1024 * 1024:
            return "low_space"
        write_probe(data_dir)
    except OSError:
        return "not_writable"
    return None
