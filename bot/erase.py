"""Erasing a user's content on request (「記録を消して」); the logic lives in handoff/erase.py.

Kept as a thin re-export so the bot and the console share one implementation.
"""
from __future__ import annotations

from handoff.erase import do_erase_user

__all__ = ["do_erase_user"]
