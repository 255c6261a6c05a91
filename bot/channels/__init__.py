"""Channels: one package each, turning platform payloads into neutral messages and sending replies.

A new channel is one folder (``adapter``, ``render``, ``cli`` as they apply, and a ``CHANNEL``
in its ``__init__``) plus one line here. The composition root mounts them in this order
(bot/app.py) and adds their commands (bot/cli.py); the web chat comes first because the
console's preview borrows its templates.
"""
from __future__ import annotations

from bot.channels import line, telegram, terminal, web
from bot.channels.base import Channel

CHANNELS: tuple[Channel, ...] = (web.CHANNEL, line.CHANNEL, telegram.CHANNEL, terminal.CHANNEL)
