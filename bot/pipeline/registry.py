"""The channel adapters this process works for (one per channel; the workers look them up here)."""
from __future__ import annotations

from bot.channels.base import ChannelAdapter

_adapters: dict[str, ChannelAdapter] = {}


def register_adapter(adapter: ChannelAdapter) -> None:
    """Makes ``adapter`` the one for its channel in this process (a newer one replaces it)."""
    _adapters[adapter.name] = adapter


def unregister_adapter(name: str) -> None:
    _adapters.pop(name, None)


def get_adapter(name: str) -> ChannelAdapter | None:
    return _adapters.get(name)


def worker_channels() -> list[str]:
    """Channels whose inbox/outbox rows this process works on (web/terminal deliver elsewhere)."""
    return sorted(_adapters)
