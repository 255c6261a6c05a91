"""Encryption at rest for message text and other personal data (AES-256-GCM).

Each stored value is ``enc1:<key id>:<base64(nonce || ciphertext+tag)>`` so the key id travels
with the row: keys can be rotated (``ristapo keys rotate``) and an old key removed once no row
names it. A wrong or missing key raises :class:`DecryptionError`, never returns garbage.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.types import Text, TypeDecorator

log = logging.getLogger("ristapo.crypto")
PREFIX = "enc1"
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def _safe_kid(kid: str) -> str:
    """A key id fit for an error message (a non-token value must never be echoed)."""
    return kid if _KID.match(kid) else "<malformed>"


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted (unknown key id, wrong key or tampering)."""


class MissingKeyError(RuntimeError):
    """No data key is configured where one is required."""


@dataclass
class KeyRing:
    """Keys by id; ``current`` encrypts, every key decrypts.

    ``reload`` (set for key-file rings) is asked for a fresh ring when a value names an unknown
    key id: after ``ristapo keys rotate`` a running process can still read re-encrypted rows.
    """

    # why repr=False: a ring printed in a traceback or a debug line must not show key bytes
    keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    current: str = ""
    reload: Callable[[], KeyRing] | None = field(default=None, repr=False, compare=False)
    _reloaded_at: float = field(default=-1e9, repr=False, compare=False)

    def encrypt(self, plaintext: str) -> str:
        if not self.current:
            raise MissingKeyError("no data key configured")
        nonce = os.urandom(12)
        blob = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode("utf-8"), self.current.encode())
        return f"{PREFIX}:{self.current}:{base64.b64encode(nonce + blob).decode()}"

    def decrypt(self, token: str) -> str:
        # why no "from exc" detail and no value in messages: the value may be legacy plain text
        try:
            prefix, kid, b64 = token.split(":", 2)
        except ValueError:
            raise DecryptionError("value is not an encrypted token") from None
        if prefix != PREFIX:
            raise DecryptionError("value is not an encrypted token")
        key = self.keys.get(kid)
        if key is None and self.reload is not None:
            self._reload()
            key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(
                f"no key with id {_safe_kid(kid)!r} is configured (known: {', '.join(sorted(self.keys)) or 'none'})"
            )
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptionError(f"value under key {_safe_kid(kid)!r} is damaged (not base64)") from None
        if len(raw) < 12 + 16:
            raise DecryptionError(f"value under key {_safe_kid(kid)!r} is damaged (too short)")
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], kid.encode()).decode("utf-8")
        except InvalidTag:
            raise DecryptionError(
                f"key {_safe_kid(kid)!r} does not open this value (wrong key or tampered data)"
            ) from None

    def _reload(self) -> None:
        # why throttled: a batch of rows under a truly unknown key must not re-read the file per row
        now = time.monotonic()
        if now - self._reloaded_at < 1.0:
            return
        self._reloaded_at = now
        try:
            fresh = self.reload()  # type: ignore[misc]
        except Exception as exc:  # a broken key file must not hide the real decryption error
            log.warning("could not reload the data key file", extra={"error_type": type(exc).__name__})
            return
        self.keys = fresh.keys
        self.current = fresh.current

    @staticmethod
    def key_id_of(token: str) -> str | None:
        parts = token.split(":", 2)
        return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


_ring = KeyRing()


def keyring() -> KeyRing:
    return _ring


def parse_keys(spec: str) -> KeyRing:
    """``base64`` (one key, id "k1") or ``kid:base64,kid2:base64`` (the first one is current)."""
    ring = KeyRing()
    for i, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
        kid, _, b64 = part.rpartition(":")
        kid = kid or "k1"
        if not _KID.match(kid):
            raise MissingKeyError("a data key id must be 1-40 characters of A-Z a-z 0-9 _ . -")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            # why no value in the message: this is secret material
            raise MissingKeyError(f"data key {kid!r} must be 32 bytes of base64")
        ring.keys[kid] = key
        if i == 0:
            ring.current = kid
    return ring


def format_keys(ring: KeyRing) -> str:
    """The ``RISTAPO_DATA_KEY`` value for ``ring`` (current key first)."""
    order = [ring.current] + sorted(k for k in ring.keys if k != ring.current)
    return ",".join(f"{kid}:{base64.b64encode(ring.keys[kid]).decode()}" for kid in order if kid)


def new_key_b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def load_keyfile(path: Path) -> KeyRing:
    try:
        data = json.loads(path.read_text())
        ring = KeyRing(keys={k: base64.b64decode(v, validate=True) for k, v in data["keys"].items()}, current=data["current"])
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise MissingKeyError(f"data key file {path} is unreadable ({type(exc).__name__})") from None
    if ring.current not in ring.keys or any(len(k) != 32 for k in ring.keys.values()):
        raise MissingKeyError(f"data key file {path} is inconsistent (current key missing or a key is not 32 bytes)")
    return ring


def save_keyfile(path: Path, ring: KeyRing) -> None:
    """Writes the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    body = json.dumps({"current": ring.current, "keys": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()}})
    # why os.open with 0o600: write_text then chmod leaves a window where the keys are world-readable
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def default_key_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "data-keys.json"


def configure(*, data_key: str | None, key_file: Path | None, data_dir: Path, production: bool) -> KeyRing:
    """Install the process key ring from settings.

    Why the dev fallback: a newcomer's first ``ristapo serve`` must work without ceremony,
    but production must never silently invent a key that nobody backs up.
    """
    global _ring
    if data_key:
        _ring = parse_keys(data_key)
    else:
        path = key_file or default_key_file(data_dir)
        if path.exists():
            _ring = load_keyfile(path)
            _ring.reload = lambda: load_keyfile(path)
        elif production:
            raise MissingKeyError("production mode needs RISTAPO_DATA_KEY or RISTAPO_DATA_KEY_FILE; refusing to start")
        else:
            _ring = KeyRing(keys={"dev1": secrets.token_bytes(32)}, current="dev1")
            save_keyfile(path, _ring)
            _ring.reload = lambda: load_keyfile(path)
            log.warning("created a development data key at %s (keep it outside backups of the database)", path)
    return _ring


def set_keyring(ring: KeyRing) -> None:
    global _ring
    _ring = ring


class EncryptedText(TypeDecorator):
    """A text column stored encrypted with the process key ring."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return _ring.encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _ring.decrypt(value)
