"""``ristapo chat``: talk to the bot in the terminal."""
from __future__ import annotations

import argparse


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.channels.terminal.adapter import run_terminal_chat
    from core.logs import setup_logging

    setup_logging("WARNING")

    return run_terminal_chat(user=args.user)


def register(subparsers, parser) -> None:
    p = subparsers.add_parser("chat", help="talk to the bot in the terminal (same engine, same database)")
    p.add_argument("--user", default=None, help="continue the conversation of this name (kept only as a keyed hash); without it each run starts fresh")
    p.set_defaults(func=cmd_chat)
