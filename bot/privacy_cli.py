"""``ristapo purge`` and ``ristapo keys …``: retention by hand and data-key rotation.

Output is counts and key ids only: these commands never print message text, and print key
material only where the operator must copy it (a new ``RISTAPO_DATA_KEY`` value).
"""
from __future__ import annotations

import argparse
import sys

from core import crypto


def _prepare():
    import logging

    from bot.startup import prepare
    from core.logs import setup_logging
    from core.settings import get_settings

    if not logging.getLogger().handlers:  # why: an embedding process (tests) keeps its own logging
        setup_logging("WARNING")
    return prepare(get_settings())


def cmd_purge(args: argparse.Namespace) -> int:
    """Deletes (or with --dry-run counts) what is older than the retention periods."""
    from bot.retention import run_once

    settings = _prepare()
    counts = run_once(settings, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    from core import db
    from core.service_settings import retention_days

    with db.session_scope() as session:
        days = retention_days(session, settings)
    print(f"retention: conversations {days} days, raw payloads {settings.payload_retention_days} days")
    if not counts:
        print(f"{verb}: nothing")
    for name, n in counts.items():
        what = "payloads erased" if name.endswith(".payload") else "rows"
        print(f"{verb}: {name:<28} {n:>7} {what}")
    return 0


def cmd_keys_status(args: argparse.Namespace) -> int:
    """Lists configured keys and, per encrypted column, how many values each key holds."""
    from core.keys import PLAIN, key_source, key_usage

    settings = _prepare()
    ring = crypto.keyring()
    source, path = key_source(settings)
    print(f"key source: {'RISTAPO_DATA_KEY' if source == 'env' else path}")
    print(f"configured keys: {', '.join(_label(k, ring) for k in sorted(ring.keys))}")
    usage = key_usage()
    total: dict[str, int] = {}
    for column, counts in usage.items():
        shown = ", ".join(f"{k}={n}" for k, n in sorted(counts.items())) or "empty"
        print(f"  {column:<36} {shown}")
        for k, n in counts.items():
            total[k] = total.get(k, 0) + n
    status = 0
    for kid in sorted(ring.keys):
        if kid == ring.current:
            continue
        if total.get(kid):
            print(f"key {kid}: still used by {total[kid]} values; run `ristapo keys reencrypt` before removing it")
        else:
            print(f"key {kid}: no longer used; it can be removed with `ristapo keys remove {kid}`")
    unknown = sorted(k for k in total if k not in ring.keys and k != PLAIN)
    if unknown:
        print(f"values under keys that are not configured: {', '.join(unknown)} (they cannot be read)")
        status = 1
    if total.get(PLAIN):
        print(f"{total[PLAIN]} values are not encrypted yet; `ristapo keys reencrypt` encrypts them")
    return status


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Makes a new key current (key file, or a printed RISTAPO_DATA_KEY) and re-encrypts."""
    from core.keys import key_source, with_new_key

    settings = _prepare()
    source, path = key_source(settings)
    ring = with_new_key(crypto.keyring())
    if source == "file":
        assert path is not None  # key_source names the file whenever the source is "file"
        crypto.save_keyfile(path, ring)
        crypto.set_keyring(ring)
        print(f"new current key {ring.current} written to {path}")
        if args.no_reencrypt:
            print("not re-encrypting now; run `ristapo keys reencrypt` later")
            return 0
        # why now is safe: a running service reloads the key file when it meets the new key id
        return _reencrypt(ring, args.batch_size)
    print(f"new current key {ring.current}. Set this value everywhere ristapo runs, keep the old one as a backup:")
    print(f"RISTAPO_DATA_KEY={crypto.format_keys(ring)}")
    if not args.reencrypt:
        # why not by default: processes still running with the old value could not read re-encrypted rows
        print("then restart the services and run `ristapo keys reencrypt` with the new value")
        print("(or, with every ristapo process stopped, rerun with --reencrypt to do it in one step)")
        return 0
    crypto.set_keyring(ring)
    return _reencrypt(ring, args.batch_size)


def cmd_keys_reencrypt(args: argparse.Namespace) -> int:
    """Rewrites every value that is not under the current key."""
    _prepare()
    return _reencrypt(crypto.keyring(), args.batch_size)


def cmd_keys_remove(args: argparse.Namespace) -> int:
    """Removes a key that no value uses any more."""
    from core.keys import key_source, keys_in_use, without_key

    settings = _prepare()
    ring = crypto.keyring()
    try:
        smaller = without_key(ring, args.kid)
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    in_use = keys_in_use().get(args.kid, 0)
    if in_use:
        print(f"refused: {in_use} values still use key {args.kid}; run `ristapo keys reencrypt` first", file=sys.stderr)
        return 1
    source, path = key_source(settings)
    if source == "file":
        assert path is not None  # key_source names the file whenever the source is "file"
        crypto.save_keyfile(path, smaller)
        print(f"key {args.kid} removed from {path}")
    else:
        print(f"key {args.kid} is unused. New value without it:")
        print(f"RISTAPO_DATA_KEY={crypto.format_keys(smaller)}")
    return 0


def _reencrypt(ring: crypto.KeyRing, batch_size: int) -> int:
    from core.keys import reencrypt

    report = reencrypt(ring, batch_size=batch_size)
    columns = sorted(set(report.rewritten) | set(report.plain_encrypted) | set(report.unreadable))
    print(f"re-encrypting under key {ring.current}:")
    if not columns:
        print("  every value was already under the current key")
    for name in columns:
        parts = [f"{report.rewritten[name]} re-encrypted"]
        if report.plain_encrypted[name]:
            parts.append(f"{report.plain_encrypted[name]} plain values encrypted")
        if report.unreadable[name]:
            parts.append(f"{report.unreadable[name]} UNREADABLE (no configured key opens them)")
        print(f"  {name:<36} {', '.join(parts)}")
    if report.changed_meanwhile:
        print(f"  {report.changed_meanwhile} values changed during the pass; run `ristapo keys reencrypt` again")
    print("next: `ristapo keys status` shows which old keys can be removed")
    return 0 if report.ok else 1


def _label(kid: str, ring: crypto.KeyRing) -> str:
    return f"{kid} (current)" if kid == ring.current else kid


def register(subparsers, parser: argparse.ArgumentParser) -> None:
    """Adds ``purge`` and ``keys`` to the ``ristapo`` command."""
    p = subparsers.add_parser("purge", help="delete what is older than the retention periods")
    p.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    p.set_defaults(func=cmd_purge)

    keys = subparsers.add_parser("keys", help="data encryption keys: status, rotate, reencrypt, remove")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    p = sub.add_parser("status", help="configured keys and which key each encrypted column uses")
    p.set_defaults(func=cmd_keys_status)
    p = sub.add_parser("rotate", help="make a new key current and re-encrypt everything under it")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--no-reencrypt", action="store_true", help="key file: only add the new key")
    p.add_argument("--reencrypt", action="store_true", help="RISTAPO_DATA_KEY: also re-encrypt now (services stopped)")
    p.set_defaults(func=cmd_keys_rotate)
    p = sub.add_parser("reencrypt", help="re-encrypt every value not under the current key")
    p.add_argument("--batch-size", type=int, default=500)
    p.set_defaults(func=cmd_keys_reencrypt)
    p = sub.add_parser("remove", help="remove a key no value uses any more")
    p.add_argument("kid")
    p.set_defaults(func=cmd_keys_remove)
