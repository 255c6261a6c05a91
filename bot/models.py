"""The user side's tables: the inbox of raw webhook events, which lives in core/inbox.py.

Why a re-export: handoff's erasure must reach the inbox without importing bot/ (see
core/inbox.py); the pipeline and its tests keep importing it from here.
"""
from __future__ import annotations

from core.inbox import InboxEvent

__all__ = ["InboxEvent"]
