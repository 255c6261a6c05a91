"""``ristapo admin ...``: create the first accounts (there are no default ones) and disable them."""
from __future__ import annotations

import argparse
import sys

from admin.models import ROLE_NAMES


def _open_database() -> None:
    """Keys and engine from settings (the same steps as ``bot.startup.prepare``; admin may not import bot)."""
    from core import crypto, db
    from core.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    crypto.configure(data_key=settings.data_key, key_file=settings.data_key_file, data_dir=settings.data_dir, production=settings.env == "production")
    db.init_engine(settings.database_url)
    db.create_all()


def cmd_create_user(args: argparse.Namespace) -> int:
    from admin import accounts
    from core import db
    from handoff.actions import ActionError

    _open_database()
    try:
        with db.session_scope() as session:
            name = accounts.check_create_staff(session, args.name)
            user, password = accounts.do_create_staff(session, username=name, display_name=args.display_name or name, roles=args.role, by="cli", by_id=None, ip="cli")
    except ActionError as exc:
        print(f"ristapo admin: {exc.message}", file=sys.stderr)
        return 1
    print(f"created {user.username} (roles: {user.roles})")
    print(f"one-time password: {password}")
    print("It is shown only now. At first login it must be changed and an authenticator app enrolled.")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from admin import accounts
    from core import db
    from handoff.actions import ActionError

    _open_database()
    try:
        with db.session_scope() as session:
            user = accounts.get_by_username(session, args.name)
            if user is None:
                print(f"ristapo admin: no account named {args.name!r}", file=sys.stderr)
                return 1
            accounts.do_set_disabled(session, user, True, by="cli", by_id=None, ip="cli")
    except ActionError as exc:
        print(f"ristapo admin: {exc.message}", file=sys.stderr)
        return 1
    print(f"disabled {args.name}: its sessions ended and its tickets went back to the queue")
    return 0


def register(subparsers, parser: argparse.ArgumentParser) -> None:
    admin = subparsers.add_parser("admin", help="staff accounts (no default accounts exist)").add_subparsers(dest="admin_command", required=True)

    p = admin.add_parser("create-user", help="create a console account and print its one-time password")
    p.add_argument("name", help="user name (letters, digits, . _ -)")
    p.add_argument("--role", action="append", required=True, choices=sorted(ROLE_NAMES), help="admin, staff or editor; repeat for several")
    p.add_argument("--display-name", default=None)
    p.set_defaults(func=cmd_create_user)

    p = admin.add_parser("disable", help="disable an account: its sessions end at once")
    p.add_argument("name")
    p.set_defaults(func=cmd_disable)
