"""Encryption at rest for message text and other personal data (AES-256-GCM).

Each stored value is ``enc1:<key id>:<base64(nonce || ciphertext+tag)>`` so the key id travels
with the row: keys can be rotated (``ristapo keys rotate``) and an old key removed once no row
names it. A wrong or missing key raises :class:`DecryptionError`, never returns garbage.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.types import Text, TypeDecorator

log = logging.getLogger("ristapo.crypto")
PREFIX = "enc1"


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted (unknown key id, wrong key or tampering)."""


class MissingKeyError(RuntimeError):
    """No data key is configured where one is required."""


@dataclass
class KeyRing:
    """Keys by id; ``current`` encrypts, every key decrypts."""

    keys: dict[str, bytes] = field(default_factory=dict)
    current: str = ""

    def encrypt(self, plaintext: str) -> str:
        if not self.current:
            raise MissingKeyError("no data key configured")
        nonce = os.urandom(12)
        blob = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode("utf-8"), self.current.encode())
        return f"{PREFIX}:{self.current}:{base64.b64encode(nonce + blob).decode()}"

    def decrypt(self, token: str) -> str:
        try:
            prefix, kid, b64 = token.split(":", 2)
        except ValueError as exc:
            raise DecryptionError("value is not an encrypted token") from exc
        if prefix != PREFIX:
            raise DecryptionError("value is not an encrypted token")
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"no key with id {kid!r} is configured")
        raw = base64.b64decode(b64)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], kid.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise DecryptionError(f"key {kid!r} does not open this value (wrong key or tampered data)") from exc

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
        key = base64.b64decode(b64)
        if len(key) != 32:
            raise MissingKeyError(f"data key {kid!r} must be 32 bytes of base64")
        ring.keys[kid] = key
        if i == 0:
            ring.current = kid
    return ring


def new_key_b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def load_keyfile(path: Path) -> KeyRing:
    data = json.loads(path.read_text())
    ring = KeyRing(keys={k: base64.b64decode(v) for k, v in data["keys"].items()}, current=data["current"])
    return ring


def save_keyfile(path: Path, ring: KeyRing) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"current": ring.current, "keys": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()}}))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def configure(*, data_key: str | None, key_file: Path | None, data_dir: Path, production: bool) -> KeyRing:
    """Install the process key ring from settings.

    Why the dev fallback: a newcomer's first ``ristapo serve`` must work without ceremony,
    but production must never silently invent a key that nobody backs up.
    """
    global _ring
    if data_key:
        _ring = parse_keys(data_key)
    else:
        path = key_file or (data_dir / "keys" / "data-keys.json")
        if path.exists():
            _ring = load_keyfile(path)
        elif production:
            raise MissingKeyError("production mode needs RISTAPO_DATA_KEY or RISTAPO_DATA_KEY_FILE; refusing to start")
        else:
            _ring = KeyRing(keys={"dev1": secrets.token_bytes(32)}, current="dev1")
            save_keyfile(path, _ring)
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
