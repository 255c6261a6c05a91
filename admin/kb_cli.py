"""``ristapo kb publish``: record the entry files as the published versions (after a git edit).

Files-first means an entry can also change in git; this command runs ``kb check`` and, when
it passes, records every entry file whose text differs from its last published version, so
the console's history, diff and stale flag stay true. It never writes entry files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _open_database(settings) -> None:
    """Keys, engine and schema from settings (as ``bot.startup.prepare``; admin may not import bot)."""
    from core import crypto, db, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    crypto.configure(data_key=settings.data_key, key_file=settings.data_key_file, data_dir=settings.data_dir, production=settings.env == "production")
    db.init_engine(settings.database_url)
    migrate.ensure_schema(settings)


def cmd_kb_publish(args: argparse.Namespace) -> int:
    from admin import kb as wf
    from core import db
    from core.settings import get_settings
    from knowledge.editorial.entries import KbFiles
    from knowledge.kb import ENTRIES_DIR
    from knowledge.kb_check import check_kb

    settings = get_settings()
    entries = Path(args.entries) if args.entries else (Path(settings.kb_dir) if settings.kb_dir else ENTRIES_DIR)
    problems = [p for p in check_kb(entries) if not p.startswith("note:")]
    if problems:
        for p in problems:
            print(p)
        print("ristapo kb publish: kb check found problems; nothing recorded", file=sys.stderr)
        return 1
    _open_database(settings)
    with db.session_scope() as session:
        recorded = wf.do_sync_files(session, KbFiles.default(entries))
    for row in recorded:
        print(f"published {row.entry_id} v{row.version}")
    print(f"kb publish: {len(recorded)} entr{'y' if len(recorded) == 1 else 'ies'} recorded, the others were already current")
    return 0


def register(subparsers, parser) -> None:
    kb = getattr(parser, "_kb_subparsers", None)
    if kb is None:  # pragma: no cover - bot.cli always provides the "kb" group
        return
    p = kb.add_parser("publish", help="record the entry files as published versions (after kb check passes)")
    p.add_argument("--entries", default=None, help="entries directory (default: RISTAPO_KB_DIR or the packaged entries)")
    p.set_defaults(func=cmd_kb_publish)
