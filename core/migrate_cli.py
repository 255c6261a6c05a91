"""``ristapo db ...``: schema migrations (Alembic, configured in code; works from any directory).

    ristapo db upgrade            bring the database to the newest schema (run before starting)
    ristapo db current            which revision the database is at, and whether that is head
    ristapo db check              exit 1 unless the database is at head and equals the models
    ristapo db downgrade REV      step back (e.g. -1); for rollbacks of a bad deploy
    ristapo db revision -m MSG    write a new migration from the model changes (developers)
"""
from __future__ import annotations

import argparse
import sys


def _url(args: argparse.Namespace) -> str:
    if getattr(args, "url", None):
        return args.url
    from core.settings import get_settings

    return get_settings().database_url


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from core import migrate

    url = _url(args)
    try:
        before, after = migrate.upgrade(url, args.revision)
    except migrate.SchemaNotReady as exc:
        print(f"ristapo db upgrade: {exc}", file=sys.stderr)
        return 1
    was = ", ".join(before.current) or "empty"
    now = ", ".join(after.current) or "empty"
    if was == now:
        print(f"{_safe(url)}: already at {now}")
    else:
        print(f"{_safe(url)}: upgraded {was} -> {now}")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from core import db, migrate

    url = _url(args)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            st = migrate.status(conn)
    finally:
        engine.dispose()
    cur = ", ".join(st.current) or "none"
    note = "(head)" if st.up_to_date else f"(head is {', '.join(st.heads) or 'none'}: run `ristapo db upgrade`)"
    print(f"{_safe(url)}: {cur} {note}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from core import db, migrate

    url = _url(args)
    engine = db.make_engine(url)
    try:
        try:
            migrate.check(engine)
        except migrate.SchemaNotReady as exc:
            print(f"ristapo db check: {exc}", file=sys.stderr)
            return 1
        with engine.connect() as conn:
            diff = migrate.schema_diff(conn)
    finally:
        engine.dispose()
    if diff:
        print("ristapo db check: the database is at head but differs from the models:\n" + migrate.format_diff(diff), file=sys.stderr)
        print("write a migration: ristapo db revision -m 'what changed'", file=sys.stderr)
        return 1
    print(f"{_safe(url)}: at head and equal to the models")
    return 0


def cmd_downgrade(args: argparse.Namespace) -> int:
    from core import migrate

    url = _url(args)
    before, after = migrate.downgrade(url, args.revision)
    print(f"{_safe(url)}: downgraded {', '.join(before.current) or 'empty'} -> {', '.join(after.current) or 'empty'}")
    return 0


def cmd_revision(args: argparse.Namespace) -> int:
    from core import migrate

    path = migrate.new_revision(args.message, autogenerate=not args.empty, url=args.url, rev_id=args.rev_id)
    print(f"wrote {path}\nread it, then commit it with the model change")
    return 0


def register(subparsers, parser=None) -> None:
    dbp = subparsers.add_parser("db", help="database schema migrations (ristapo db upgrade)")
    sub = dbp.add_subparsers(dest="db_command", required=True)
    url_help = "database URL (default: RISTAPO_DATABASE_URL / settings)"

    p = sub.add_parser("upgrade", help="bring the database to the newest schema")
    p.add_argument("revision", nargs="?", default="head")
    p.add_argument("--url", default=None, help=url_help)
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("current", help="show the database's schema revision")
    p.add_argument("--url", default=None, help=url_help)
    p.set_defaults(func=cmd_current)

    p = sub.add_parser("check", help="exit 1 unless the database is at head and equals the models")
    p.add_argument("--url", default=None, help=url_help)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("downgrade", help="step the schema back to REVISION (e.g. -1)")
    p.add_argument("revision")
    p.add_argument("--url", default=None, help=url_help)
    p.set_defaults(func=cmd_downgrade)

    p = sub.add_parser("revision", help="write a migration for model changes (developers)")
    p.add_argument("-m", "--message", required=True)
    p.add_argument("--empty", action="store_true", help="an empty script for a data migration")
    p.add_argument("--rev-id", default=None, help="revision id (default: random); e.g. 0002 to keep files in order")
    p.add_argument("--url", default=None, help="compare against this database (default: a temporary SQLite at head)")
    p.set_defaults(func=cmd_revision)
