"""Pseudonymous identities: a keyed hash of the platform user id and a staff-facing pseudonym.

Why keyed (HMAC) rather than a plain hash: LINE/Telegram ids are guessable in form, so a
plain hash could be reversed by enumeration; the pepper lives outside the database.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

_pepper: bytes | None = None
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O/1/I: read aloud on the phone


def configure(data_dir: Path, pepper: str | None = None) -> None:
    global _pepper
    if pepper:
        _pepper = pepper.encode()
        return
    path = data_dir / "keys" / "id-pepper"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # why os.open with 0o600: write_text then chmod leaves a window where the pepper is readable
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    _pepper = path.read_text().strip().encode()


def user_hash(channel: str, platform_id: str) -> str:
    if _pepper is None:
        raise RuntimeError("identity.configure() was not called")
    return hmac.new(_pepper, f"{channel}:{platform_id}".encode(), hashlib.sha256).hexdigest()


def new_pseudonym() -> str:
    """A short random label such as 相談者 A7K2 (random, so it reveals nothing)."""
    return "相談者 " + "".join(secrets.choice(_ALPHABET) for _ in range(4))
