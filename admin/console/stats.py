"""Numbers for the admin dashboard: counts only, never message text or identities.

Days are JST calendar days. The queries read timestamps of the last ``days`` days and bucket
them in Python: an office has hundreds of conversations a day, not millions, and this keeps
the code the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from admin.unanswered import INTENT_ABSTAINED, open_tickets
from core.clock import JST, now
from core.models import ChannelUser, Conversation, Message
from handoff.models import Ticket

CHANNEL_LABELS = {"line": "LINE", "telegram": "Telegram", "web": "ウェブ", "terminal": "端末"}
WAIT_BUCKETS = [(5, "5分未満"), (15, "5〜15分"), (30, "15〜30分"), (60, "30〜60分"), (240, "1〜4時間"), (None, "4時間以上")]


@dataclass
class Dashboard:
    days: list[date]
    conversations: dict[str, list[int]]  # channel -> count per day
    handoffs: list[int]
    crisis: list[int]
    wait_buckets: list[tuple[str, int]]
    wait_median_min: float | None
    waiting_now: int
    answered: int
    abstained: int
    top_entries: list[tuple[str, int]]
    totals: dict[str, int] = field(default_factory=dict)
    crisis_months: list[CrisisMonth] = field(default_factory=list)

    @property
    def abstention_rate(self) -> float | None:
        asked = self.answered + self.abstained
        return None if asked == 0 else self.abstained / asked


@dataclass
class CrisisMonth:
    """Crisis tickets of one JST month: how fast staff first replied and what was done."""

    month: str  # "2026-12"
    tickets: int
    replied: int
    median_first_reply_min: float | None
    outcomes: dict[str, int]  # CrisisOutcome name -> count


def crisis_by_month(session: Session, *, months: int = 6, include_demo: bool = True) -> list[CrisisMonth]:
    """Per month: crisis tickets, time to the first staff reply (median), recorded outcomes."""
    today = now().astimezone(JST).date().replace(day=1)
    first = today
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    q = select(Ticket).where(Ticket.crisis == True, Ticket.created_at >= datetime.combine(first, datetime.min.time(), JST))  # noqa: E712
    if not include_demo:
        q = q.where(Ticket.is_demo == False)  # noqa: E712
    by: dict[str, list[Ticket]] = defaultdict(list)
    for t in session.exec(q).all():
        by[t.created_at.astimezone(JST).strftime("%Y-%m")].append(t)
    result = []
    for key in sorted(by):
        ts = by[key]
        waits = sorted((t.first_staff_reply_at - t.created_at).total_seconds() / 60 for t in ts if t.first_staff_reply_at)
        result.append(CrisisMonth(
            month=key,
            tickets=len(ts),
            replied=len(waits),
            median_first_reply_min=waits[len(waits) // 2] if waits else None,
            outcomes=dict(Counter(t.crisis_outcome for t in ts if t.crisis_outcome)),
        ))
    return result


def _day(at: datetime) -> date:
    return at.astimezone(JST).date()


def _conversations_per_day(session: Session, start: datetime, index: dict[date, int], *, include_demo: bool) -> dict[str, list[int]]:
    """Channel → conversations started on each day."""
    q = select(Conversation.started_at, ChannelUser.channel).join(ChannelUser, col(ChannelUser.id) == Conversation.user_id).where(Conversation.started_at >= start)
    if not include_demo:
        q = q.where(ChannelUser.is_demo == False)  # noqa: E712
    conversations: dict[str, list[int]] = defaultdict(lambda: [0] * len(index))
    for started, channel in session.exec(q).all():
        i = index.get(_day(started))
        if i is not None:
            conversations[channel][i] += 1
    return dict(conversations)


@dataclass
class _Handoffs:
    per_day: list[int]
    crisis: list[int]
    waits: list[float]  # minutes from hand-off to claim, sorted


def _handoffs_per_day(session: Session, start: datetime, index: dict[date, int], *, include_demo: bool) -> _Handoffs:
    """Hand-offs and crisis hand-offs on each day, and how long each waited to be claimed."""
    tq = select(Ticket).where(Ticket.created_at >= start)
    if not include_demo:
        tq = tq.where(Ticket.is_demo == False)  # noqa: E712
    handoffs, crisis = [0] * len(index), [0] * len(index)
    waits: list[float] = []
    for t in session.exec(tq).all():
        i = index.get(_day(t.created_at))
        if i is None:
            continue
        handoffs[i] += 1
        crisis[i] += int(t.crisis)
        if t.claimed_at is not None:
            waits.append((t.claimed_at - t.created_at).total_seconds() / 60)
    return _Handoffs(handoffs, crisis, sorted(waits))


def _wait_buckets(waits: list[float]) -> list[tuple[str, int]]:
    buckets: Counter[str] = Counter()
    for w in waits:
        for limit, label in WAIT_BUCKETS:
            if limit is None or w < limit:
                buckets[label] += 1
                break
    return [(label, buckets[label]) for _l, label in WAIT_BUCKETS]


def _answers(session: Session, start: datetime) -> tuple[int, int, Counter[str]]:
    """(answered, abstained, entry id → times used) for the bot's replies since ``start``."""
    # why the bot's replies and not the user's lines: only the engine knows whether it tried to
    # answer; a line to staff or a place name it asked for is not a failed question (admin.unanswered)
    mq = select(Message.conversation_id, Message.intent, Message.kind, Message.entry_id, Message.created_at).where(  # type: ignore[call-overload]  # sqlmodel types select() for at most 4 columns
        Message.created_at >= start, Message.sender == "bot", Message.direction == "out"
    )
    replies = session.exec(mq).all()
    tickets = open_tickets(session, (r[0] for r in replies))
    answered = abstained = 0
    top: Counter[str] = Counter()
    for conversation_id, intent, kind, entry_id, at in replies:
        if entry_id:
            top[entry_id] += 1
        if tickets.covers(conversation_id, at):
            continue
        if kind == "answer" and entry_id:
            answered += 1
        elif intent == INTENT_ABSTAINED:
            abstained += 1
    return answered, abstained, top


def build_dashboard(session: Session, *, days: int = 14, include_demo: bool = True) -> Dashboard:
    """Conversations per day and channel, hand-offs, waiting times, abstention rate, top entries."""
    today = now().astimezone(JST).date()
    day_list = [today - timedelta(days=days - 1 - i) for i in range(days)]
    start = datetime.combine(day_list[0], datetime.min.time(), JST)
    index = {d: i for i, d in enumerate(day_list)}
    conversations = _conversations_per_day(session, start, index, include_demo=include_demo)
    handoffs = _handoffs_per_day(session, start, index, include_demo=include_demo)
    waiting_now = len(session.exec(select(Ticket.id).where(Ticket.state == "waiting")).all())
    answered, abstained, top = _answers(session, start)
    return Dashboard(
        days=day_list,
        conversations=conversations,
        handoffs=handoffs.per_day,
        crisis=handoffs.crisis,
        wait_buckets=_wait_buckets(handoffs.waits),
        wait_median_min=handoffs.waits[len(handoffs.waits) // 2] if handoffs.waits else None,
        waiting_now=waiting_now,
        answered=answered,
        abstained=abstained,
        top_entries=top.most_common(10),
        crisis_months=crisis_by_month(session, include_demo=include_demo),
        totals={
            "conversations": sum(sum(v) for v in conversations.values()),
            "handoffs": sum(handoffs.per_day),
            "crisis": sum(handoffs.crisis),
        },
    )
