"""OutMessage.to_dict: the outbox payload's shape, pinned against ``dataclasses.asdict``.

Why: ``to_dict`` is written by hand for speed (every turn serialises its replies); the outbox
rows already stored were written with ``asdict``, so the two must agree key for key, in order.
"""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from core.messages import Button, OutMessage

MESSAGES = [
    OutMessage("text", "こんにちは"),
    OutMessage("answer", "本文", title="受付時間", source_line="出典: 法務省", buttons=[Button("もっと", "e:x")],
               quick_replies=[Button("ふりがな", "f"), Button("人と話したい", "h")], entry_id="uketsuke-jikan",
               entry_version=3, urgent=False),
    OutMessage("crisis", "いのちの電話", urgent=True, quick_replies=[Button("緊急のとき", "x")]),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.kind)
def test_to_dict_is_what_asdict_gives(message):
    got = message.to_dict()
    assert got == asdict(message)
    assert list(got) == list(asdict(message))
    assert json.dumps(got, ensure_ascii=False) == json.dumps(asdict(message), ensure_ascii=False)


def test_to_dict_round_trips_and_does_not_share_buttons():
    message = MESSAGES[1]
    got = message.to_dict()
    got["quick_replies"][0]["label"] = "changed"
    got["buttons"].clear()
    assert message.quick_replies[0].label == "ふりがな" and message.buttons
    assert OutMessage.from_dict(message.to_dict()) == message
