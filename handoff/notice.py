"""Honest waiting: what the user is told when a ticket is created."""
from __future__ import annotations

from sqlmodel import Session

from handoff.queue import queue_position


def waiting_notice(session: Session, *, urgent: bool) -> str:
    """Says whether someone is reading now, the queue position and when to expect a reply."""
    position = queue_position(session, urgent=urgent)
    return (
        "職員に引き継ぎました。"
        f"いま{position}番目です。職員が読んだら、このチャットに返事をします。"
        "いま危ないときは110番、つらいときは よりそいホットライン 0120-279-338(24時間)へ電話してください。"
    )
