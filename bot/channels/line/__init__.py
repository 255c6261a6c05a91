"""The LINE channel: ``adapter`` (webhook and delivery), ``payload`` (request bodies), ``render``, ``cli``.

Why this module stays light: bot/channels/__init__.py imports every channel package for
``CHANNELS``, and bot.pipeline imports bot.channels.base; the SDK and the adapter are imported
when the channel is installed, not whenever a process touches bot.channels.
"""
from __future__ import annotations

from bot.channels.base import Channel


def install(app, settings) -> None:
    """Mounts the webhook and registers the adapter when the LINE credentials are set."""
    if not settings.line_enabled:
        return
    from bot import pipeline
    from bot.channels.line.adapter import LineAdapter
    from bot.channels.webhook_asgi import mount_webhook

    adapter = LineAdapter(settings)
    # why now rather than at the first reply: the SDK's message models (about 100,000 objects)
    # are then part of the start-up heap that `ristapo serve` freezes (core/heap.py)
    import linebot.v3.messaging  # noqa: F401
    pipeline.register_adapter(adapter)
    app.state.line_adapter = adapter
    # why below the framework: see bot/channels/webhook_asgi.py (LINE sends bursts)
    mount_webhook(app, adapter)

    async def _close(app) -> None:
        await adapter.aclose()

    app.state.on_shutdown.append(_close)


def register_cli(subparsers, parser) -> None:
    """``ristapo line ...``."""
    from bot.channels.line import cli

    cli.register(subparsers, parser)


CHANNEL = Channel("line", install=install, register_cli=register_cli)


def __getattr__(name: str):
    """``bot.channels.line.LineAdapter`` as before the package split (benchmarks import it so)."""
    if name == "LineAdapter":
        from bot.channels.line.adapter import LineAdapter

        return LineAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
