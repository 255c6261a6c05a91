"""The terminal chat (``ristapo chat``): ``adapter`` (lines in, replies out), ``render``, ``cli``.

Its turns run at once, like the web chat's, so it mounts nothing on the app.
"""
from __future__ import annotations

from bot.channels.base import Channel


def register_cli(subparsers, parser) -> None:
    """``ristapo chat``."""
    from bot.channels.terminal import cli

    cli.register(subparsers, parser)


CHANNEL = Channel("terminal", register_cli=register_cli)
