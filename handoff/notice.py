"""Honest waiting: what the user is told when a ticket is created.

Why so explicit: a person in trouble who writes at 22:00 must not believe someone is
reading. In hours we give the queue position and a rough wait; after hours, on weekends,
public holidays and closed days we say nobody is reading now, when someone will, and which
numbers to call meanwhile.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlmodel import Session

from core.clock import JST, now
from handoff.hours import WEEKDAYS_JA, HoursStatus, format_when, load_hours, next_opening, status
from handoff.models import OfficeHoursBase, Ticket
from handoff.queue import queue_position, ticket_position
from knowledge.hotlines import hotline_text

_SHORT_NUMBERS = ("110", "119", "0120-279-338")

REASONS = {
    "holiday": "今日は祝日({name})なので、職員は休みです。",
    "closed_day": "今日は年末年始などの休みの日なので、職員は休みです。",
    # why per weekday: 「土日などの休みの日」 read on a Wednesday without hours is plainly wrong
    "no_hours_today": "今日は{weekday}曜日で、受付のない休みの日なので、職員は休みです。",
    "before_hours": "いまは受付時間の前です。",
    "after_hours": "いまは受付時間が終わっています。",
}


def emergency_text() -> str:
    return "いま危ないとき・つらいときは、すぐに電話してください。\n" + hotline_text(_SHORT_NUMBERS)


def expected_wait_minutes(position: int, hours: OfficeHoursBase) -> int:
    """A rough wait: tickets ahead × handling time, rounded up to 10 minutes (at least 10)."""
    return max(10, int(math.ceil(position * hours.minutes_per_ticket / 10.0)) * 10)


def compose_notice(*, position: int, hours: OfficeHoursBase, st: HoursStatus, at: datetime) -> str:
    """The waiting text for a given queue position and hours status (pure, for tests)."""
    at = at.astimezone(JST)
    head = "職員に引き継ぎました。"
    if st.open_now:
        wait = expected_wait_minutes(position, hours)
        body = f"いまは受付時間内です。順番は{position}番目です。返事の目安は、およそ{wait}分後です(混みぐあいで前後します)。"
        if st.closes_at is not None and at + timedelta(minutes=wait) > st.closes_at:
            nxt = next_opening(hours, st.closes_at)
            later = f"次の受付時間({format_when(nxt, at)}から)" if nxt else "次の受付時間"
            body += f"受付は{format_when(st.closes_at, at)}までなので、今日中に返事できないときは{later}に返事をします。"
        body += "職員が読んだら、このチャットに返事をします。"
    else:
        body = _closed_now(st, at) + f"順番は{position}番目です。"
    return head + body + "\n" + emergency_text()


def _closed_now(st: HoursStatus, at: datetime) -> str:
    """「今日は…なので、職員は休みです。いま、…読んでいる職員はいません。次に職員が読むのは…です。」"""
    reason = REASONS.get(st.reason, "いまは受付時間外です。").format(name=st.holiday_name or "", weekday=WEEKDAYS_JA[at.weekday()])
    when = f"{format_when(st.next_open, at)}ごろ" if st.next_open else "次の受付日"
    return f"{reason}いま、このチャットを読んでいる職員はいません。次に職員が読むのは{when}です。"


def compose_ack(*, position: int, hours: OfficeHoursBase, st: HoursStatus, at: datetime, crisis: bool) -> str:
    """The sign of life for a message while a ticket waits: received, place, honest time (pure)."""
    at = at.astimezone(JST)
    head = "受け取りました(自動の返事です)。"
    if st.open_now:
        wait = expected_wait_minutes(position, hours)
        if crisis:
            body = "いまは受付時間内です。職員に「急ぎ」で知らせてあります。"
        else:
            body = f"いまは受付時間内です。順番は{position}番目で、返事の目安はおよそ{wait}分後です。"
        if st.closes_at is not None and at + timedelta(minutes=wait) > st.closes_at:
            nxt = next_opening(hours, st.closes_at)
            later = f"次の受付時間({format_when(nxt, at)}から)" if nxt else "次の受付時間"
            body += f"受付は{format_when(st.closes_at, at)}までなので、今日中に返事できないときは{later}に返事をします。"
        return head + body
    return head + _closed_now(st, at) + ("" if crisis else f"順番は{position}番目です。")


def waiting_ack(session: Session, ticket: Ticket | None, *, crisis: bool) -> str:
    """:func:`compose_ack` for ``ticket`` (its own place in the queue) at the current time."""
    hours = load_hours(session)
    at = now()
    position = ticket_position(session, ticket) if ticket is not None and ticket.state == "waiting" else queue_position(session, urgent=crisis)
    return compose_ack(position=position, hours=hours, st=status(hours, at), at=at, crisis=crisis)


def waiting_notice(session: Session, *, urgent: bool) -> str:
    """Says whether someone is reading now, the queue position and when to expect a reply."""
    hours = load_hours(session)
    at = now()
    return compose_notice(position=queue_position(session, urgent=urgent), hours=hours, st=status(hours, at), at=at)


def crisis_staff_line(session: Session) -> str:
    """The line under the hotlines in a crisis reply: honest about whether staff read now."""
    hours = load_hours(session)
    at = now()
    st = status(hours, at)
    if st.open_now:
        return "これは自動の返事です。職員にも「急ぎ」で知らせました。このチャットにも返事をします。"
    when = f"{format_when(st.next_open, at)}ごろ" if st.next_open else "次の受付日"
    return (
        "これは自動の返事です。職員にも「急ぎ」で知らせましたが、受付時間外で、いま読んでいる職員はいません。"
        f"職員が読むのは{when}です。"
    )
