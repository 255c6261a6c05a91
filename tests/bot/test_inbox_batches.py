"""The inbox worker runs many users' turns in one transaction: same results as one by one.

Why these tests: a batch shares its loads and writes, so a mistake would show as a user's
turn seeing another user's rows, a lost or doubled transcript row, or one bad event taking
its neighbours' turns down with it.
"""
from __future__ import annotations

from sqlmodel import select

from bot import pipeline
from bot.models import InboxEvent
from core import db, identity
from core.messages import A_CONSENT_YES
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from tests.builders import make_line_postback_event, make_line_text_event
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)


def _rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


def _consent_all(line_env, users: list[str]) -> None:
    """Every user says hello (consent prompt), then agrees: the next turns store text."""
    line_env.post(*[make_line_text_event("こんにちは", user_id=u) for u in users])
    line_env.process()
    line_env.post(*[make_line_postback_event(A_CONSENT_YES, user_id=u) for u in users])
    line_env.process()
    line_env.fake.reset()


def test_a_batch_gives_each_user_their_own_turn(line_env, monkeypatch):
    monkeypatch.setattr(pipeline.TUNING, "turn_batch", 8)
    # why a longer client timeout: 20 replies go out at once to a threaded fake in this process;
    # on a loaded 2-core machine 0.5 s (the fixture's, for scripted slow answers) was seen to
    # expire, and timeouts are not what this test is about
    line_env.app.state.line_adapter.timeout = 5.0
    users = [f"U-batch-{i:02d}" for i in range(20)]
    _consent_all(line_env, users)
    # the first messages created the users together: each row is its own user's
    created = _rows(ChannelUser)
    assert sorted(u.platform_id for u in created) == users
    assert all(u.user_hash == identity.user_hash("line", u.platform_id) for u in created)
    convs_before = {c.user_id: c.id for c in _rows(Conversation)}
    assert len(convs_before) == len(users) and all(c.consent_version for c in _rows(Conversation))

    texts = {u: ("住むところがない" if i % 2 else "仕事を探したい") for i, u in enumerate(users)}
    line_env.post(*[make_line_text_event(t, user_id=u) for u, t in texts.items()])
    taken, sent = line_env.process()

    assert taken == len(users) and sent == len(users)
    assert {e.state for e in _rows(InboxEvent)} == {"done"}
    # one reply per user, to that user's own reply token
    assert len(line_env.fake.accepted) == len(users)
    assert len({r.body["replyToken"] for r in line_env.fake.accepted}) == len(users)
    # the same conversations continue (the batch found each user's open conversation)
    assert {c.user_id: c.id for c in _rows(Conversation)} == convs_before
    # each user's question is stored once, in their own conversation, with their own topic
    ins = [m for m in _rows(Message) if m.direction == "in" and m.body in set(texts.values())]
    assert len(ins) == len(users)
    by_conv: dict[int, list[Message]] = {}
    for m in ins:
        by_conv.setdefault(m.conversation_id, []).append(m)
    assert sorted(len(v) for v in by_conv.values()) == [1] * len(users)
    topics = {m.body: m.entry_id for m in ins}
    assert len(set(topics.values())) == 2, "the two questions are different topics"


def test_one_bad_event_does_not_take_its_batch_down(line_env, monkeypatch):
    from bot import service

    monkeypatch.setattr(pipeline.TUNING, "turn_batch", 16)
    users = [f"U-poison-{i:02d}" for i in range(10)]
    _consent_all(line_env, users)

    real = service.handle_inbound

    def sometimes_broken(session, rt, **kw):
        if kw["platform_id"] == users[3]:
            raise RuntimeError("a bug in one turn")
        return real(session, rt, **kw)

    monkeypatch.setattr(service, "handle_inbound", sometimes_broken)
    line_env.post(*[make_line_text_event("住むところがない", user_id=u) for u in users])
    line_env.process()

    events = [e for e in _rows(InboxEvent) if e.state != "done"]
    assert len(events) == 1 and events[0].attempts == 1 and events[0].last_error == "RuntimeError"
    assert len(line_env.fake.accepted) == len(users) - 1, "every other user got their answer"
    asked = [m for m in _rows(Message) if m.direction == "in" and m.body == "住むところがない"]
    assert len(asked) == len(users) - 1, "nothing of the rolled-back batch stays, nothing is doubled"
    assert len([o for o in _rows(OutboxMessage) if o.state == "delivered"]) >= len(users) - 1


def test_a_user_registered_meanwhile_by_another_worker_is_not_doubled(line_env, monkeypatch):
    """Two workers can both see a first message of the same new user before either takes it;
    the second registration hits the unique (channel, user_hash) and the batch goes one by one."""
    from bot import service

    users = [f"U-race-{i}" for i in range(6)]
    _consent_all(line_env, users[:3])  # half of them exist already
    real = service.load_turns
    blind = {"left": 1}

    def misses_once(session, channel, pids):
        if blind["left"]:  # as if another worker had not committed yet when this one looked
            blind["left"] -= 1
            return {}
        return real(session, channel, pids)

    monkeypatch.setattr(service, "load_turns", misses_once)
    line_env.post(*[make_line_text_event("住むところがない", user_id=u) for u in users])
    line_env.process()

    assert sorted(u.platform_id for u in _rows(ChannelUser)) == sorted(users), "one row per user"
    assert {e.state for e in _rows(InboxEvent)} == {"done"}
    assert len(line_env.fake.accepted) == len(users)
