"""Data-key rotation: which keys are in use, a new current key, and re-encryption of every row.

Every ``EncryptedText`` column of every table in ``SQLModel.metadata`` is covered, so a table
added later is re-encrypted (and reported) without anyone remembering to list it here.
Values are read and written raw (``type_coerce(..., Text)``) so nothing is decrypted twice or
encrypted twice, and each update is conditional on the value it read: a row changed by the
service meanwhile is left for the next pass instead of being overwritten.
"""
from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Column, Table, Text, literal, not_, select, type_coerce, update
from sqlmodel import SQLModel

from core import crypto, db
from core.clock import now
from core.crypto import DecryptionError, EncryptedText, KeyRing
from core.settings import Settings

PLAIN = "<plain text>"  # a value that is not an enc1 token (written before the column was encrypted)


def encrypted_columns() -> list[tuple[Table, Column]]:
    """Every (table, column) whose type is EncryptedText, in a stable order."""
    db.import_all_models()
    return [
        (table, col)
        for table in SQLModel.metadata.sorted_tables
        for col in table.columns
        if isinstance(col.type, EncryptedText)
    ]


def key_usage() -> dict[str, Counter[str]]:
    """``"table.column" -> {key id: rows}`` for every encrypted column (empty columns included)."""
    usage: dict[str, Counter[str]] = {}
    with db.engine().connect() as conn:
        for table, col in encrypted_columns():
            raw = type_coerce(col, Text)
            counts: Counter[str] = Counter()
            result = conn.execute(select(raw).where(col.is_not(None)))
            for value in result.scalars():
                counts[KeyRing.key_id_of(value) or PLAIN] += 1
            usage[f"{table.name}.{col.name}"] = counts
    return usage


def keys_in_use() -> Counter[str]:
    total: Counter[str] = Counter()
    for counts in key_usage().values():
        total.update(counts)
    return total


@dataclass
class ReencryptReport:
    rewritten: Counter[str] = field(default_factory=Counter)  # "table.column" -> rows now under the current key
    plain_encrypted: Counter[str] = field(default_factory=Counter)  # legacy plain values now encrypted
    unreadable: Counter[str] = field(default_factory=Counter)  # values no configured key opens (left as they are)
    changed_meanwhile: int = 0  # rows the service rewrote during the pass (already under a current key)

    @property
    def ok(self) -> bool:
        return not self.unreadable


def reencrypt(ring: KeyRing | None = None, *, batch_size: int = 500) -> ReencryptReport:
    """Rewrites every encrypted value that is not under ``ring.current``, one batch per transaction."""
    ring = ring or crypto.keyring()
    if not ring.current:
        raise crypto.MissingKeyError("no current data key")
    report = ReencryptReport()
    prefix = f"{crypto.PREFIX}:{ring.current}:"
    for table, col in encrypted_columns():
        name = f"{table.name}.{col.name}"
        pk_cols = list(table.primary_key.columns)
        if len(pk_cols) != 1:
            raise RuntimeError(f"re-encryption needs a single-column primary key on {table.name}")
        (pk,) = pk_cols
        raw = type_coerce(col, Text)
        last = None
        while True:
            q = select(pk, raw).where(col.is_not(None), not_(raw.startswith(prefix, autoescape=True)))
            if last is not None:
                q = q.where(pk > last)
            with db.session_scope() as session:
                rows = session.execute(q.order_by(pk).limit(batch_size)).all()
                if not rows:
                    break
                for row_id, value in rows:
                    last = row_id
                    if KeyRing.key_id_of(value) is None:
                        plain = value
                        bucket = report.plain_encrypted
                    else:
                        try:
                            plain = ring.decrypt(value)
                        except DecryptionError:
                            report.unreadable[name] += 1
                            continue
                        bucket = report.rewritten
                    res = session.exec(
                        update(table)
                        .where(pk == row_id, raw == value)
                        .values({col.name: literal(ring.encrypt(plain), Text)})
                    )
                    if res.rowcount:
                        bucket[name] += 1
                    else:
                        report.changed_meanwhile += 1
    return report


# --------------------------------------------------------------------------- key sources


def key_source(settings: Settings) -> tuple[str, Path | None]:
    """``("env", None)`` when RISTAPO_DATA_KEY is set, else ``("file", path)``."""
    if settings.data_key:
        return "env", None
    return "file", settings.data_key_file or crypto.default_key_file(settings.data_dir)


def new_key_id(ring: KeyRing) -> str:
    while True:
        kid = f"k{now():%Y%m%d}{secrets.token_hex(2)}"
        if kid not in ring.keys:
            return kid


def with_new_key(ring: KeyRing) -> KeyRing:
    """A copy of ``ring`` with a fresh random key as current (the old keys still decrypt)."""
    kid = new_key_id(ring)
    return KeyRing(keys={kid: secrets.token_bytes(32), **ring.keys}, current=kid, reload=ring.reload)


def without_key(ring: KeyRing, kid: str) -> KeyRing:
    if kid == ring.current:
        raise ValueError(f"{kid} is the current key; rotate first")
    if kid not in ring.keys:
        raise ValueError(f"no key with id {kid!r} is configured")
    return KeyRing(keys={k: v for k, v in ring.keys.items() if k != kid}, current=ring.current, reload=ring.reload)
