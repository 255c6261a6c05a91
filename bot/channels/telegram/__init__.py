"""The Telegram channel: ``adapter`` (webhook and delivery), ``updates`` (what an update means), ``render``, ``cli``.

Light on purpose, like bot/channels/line/__init__.py: PTB is imported when the channel is installed.
"""
from __future__ import annotations

from bot.channels.base import Channel


def install(app, settings) -> None:
    """Turns the channel on when ``RISTAPO_TELEGRAM_TOKEN`` and ``_SECRET`` are set."""
    if not settings.telegram_enabled:
        return
    from bot import pipeline
    from bot.channels.telegram.adapter import SECRET_PATTERN, TelegramAdapter
    from bot.channels.webhook_asgi import mount_webhook

    if not SECRET_PATTERN.match(settings.telegram_secret or ""):
        raise ValueError("RISTAPO_TELEGRAM_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
    adapter = TelegramAdapter.from_settings(settings)
    app.state.telegram = adapter
    pipeline.register_adapter(adapter)

    async def on_startup(_app) -> None:
        await adapter.start()

    async def on_shutdown(_app) -> None:
        await adapter.stop()

    app.state.on_startup.append(on_startup)
    app.state.on_shutdown.append(on_shutdown)
    mount_webhook(app, adapter)


def register_cli(subparsers, parser) -> None:
    """``ristapo telegram ...``."""
    from bot.channels.telegram import cli

    cli.register(subparsers, parser)


CHANNEL = Channel("telegram", install=install, register_cli=register_cli)
