"""Office hours in JST: weekly spans, closed days (12/29–1/3), Japanese public holidays.

Everything here is pure except :func:`load_hours`/:func:`do_save_hours`; the time comes from
``core.clock`` so tests freeze it (a holiday, a Saturday, 22:00 on a weekday).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import jpholiday
from sqlmodel import Session

from core.clock import JST, now
from handoff.models import OfficeHoursBase, OfficeSettings

WEEKDAYS_JA = "月火水木金土日"

# why 8:30–17:15: the standard working hours of national civil servants (国家公務員);
# the office changes them in the console (admin → office hours).
DEFAULT_HOURS = OfficeHoursBase(
    weekly={str(d): [("08:30", "17:15")] for d in range(5)},
    closed_days=["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"],
    closed_dates=[],
    public_holidays=True,
    minutes_per_ticket=20,
)


@dataclass(frozen=True)
class HoursStatus:
    """Whether staff read the queue now, why not, and when they will."""

    open_now: bool
    reason: str  # open | holiday | closed_day | no_hours_today | before_hours | after_hours
    holiday_name: str | None
    closes_at: datetime | None  # JST, when open_now
    next_open: datetime | None  # JST, when not open_now (None: no opening within a year)


def load_hours(session: Session) -> OfficeHoursBase:
    """The configured office hours, or the defaults when none were saved."""
    row = session.get(OfficeSettings, 1)
    if row is None:
        return DEFAULT_HOURS
    return OfficeHoursBase.model_validate(json.loads(row.hours_json))


def do_save_hours(session: Session, hours: OfficeHoursBase, *, staff_id: int | None) -> OfficeSettings:
    """Stores the office hours (one row). Caller commits and audits."""
    row = session.get(OfficeSettings, 1) or OfficeSettings(id=1, hours_json="{}")
    row.hours_json = json.dumps(hours.model_dump(mode="json"), ensure_ascii=False)
    row.updated_by = staff_id
    row.updated_at = now()
    session.add(row)
    session.flush()
    return row


def _t(value: str) -> time:
    hh, mm = (int(x) for x in value.split(":"))
    return time(23, 59, 59) if hh == 24 else time(hh, mm)


def closed_reason(hours: OfficeHoursBase, day: date) -> tuple[str, str | None] | None:
    """Why ``day`` is closed all day (reason, holiday name), or None when it has office hours."""
    if hours.public_holidays:
        name = jpholiday.is_holiday_name(day)
        if name:
            return "holiday", name
    if day.isoformat() in hours.closed_dates or day.strftime("%m-%d") in hours.closed_days:
        return "closed_day", None
    if not hours.weekly.get(str(day.weekday())):
        return "no_hours_today", None
    return None


def _spans(hours: OfficeHoursBase, day: date) -> list[tuple[datetime, datetime]]:
    spans = [(datetime.combine(day, _t(s), JST), datetime.combine(day, _t(e), JST)) for s, e in hours.weekly.get(str(day.weekday()), [])]
    return sorted(spans)


def status(hours: OfficeHoursBase, at: datetime | None = None) -> HoursStatus:
    """Open now or not, and the next opening time (JST)."""
    at = (at or now()).astimezone(JST)
    today = at.date()
    closed = closed_reason(hours, today)
    if closed is None:
        for start, end in _spans(hours, today):
            if start <= at < end:
                return HoursStatus(True, "open", None, end, None)
    reason, holiday = closed or (None, None)
    if reason is None:
        spans = _spans(hours, today)
        reason = "before_hours" if spans and at < spans[0][0] else "after_hours"
    return HoursStatus(False, reason, holiday, None, next_opening(hours, at))


def next_opening(hours: OfficeHoursBase, at: datetime | None = None) -> datetime | None:
    """The next time (JST) staff start reading, strictly after ``at``; None within a year."""
    at = (at or now()).astimezone(JST)
    for offset in range(0, 370):
        day = at.date() + timedelta(days=offset)
        if closed_reason(hours, day) is not None:
            continue
        for start, _end in _spans(hours, day):
            if start > at:
                return start
    return None


def format_when(when: datetime, ref: datetime | None = None) -> str:
    """A Japanese time phrase relative to ``ref``: 今日 13時00分 / 明日 1月4日(月) 8時30分."""
    when = when.astimezone(JST)
    ref = (ref or now()).astimezone(JST)
    clock = f"{when.hour}時{when.minute:02d}分"
    days = (when.date() - ref.date()).days
    dated = f"{when.month}月{when.day}日({WEEKDAYS_JA[when.weekday()]})"
    if days == 0:
        return f"今日 {clock}"
    if days == 1:
        return f"明日 {dated} {clock}"
    return f"{dated} {clock}"


def _clock(value: str) -> str:
    hh, mm = (int(x) for x in value.split(":"))
    return f"{hh}時" if mm == 0 else f"{hh}時{mm}分"


def describe_hours(hours: OfficeHoursBase) -> str:
    """The weekly hours in plain Japanese, for answers: 月曜日から金曜日の8時30分から17時15分まで(…休み)."""
    by_spans: dict[tuple[tuple[str, ...], ...], list[int]] = {}
    for day in range(7):
        spans = tuple(tuple(s) for s in hours.weekly.get(str(day), []))
        if spans:
            by_spans.setdefault(spans, []).append(day)
    if not by_spans:
        return "いまは決まった受付時間がありません"
    parts = []
    for spans, days in by_spans.items():
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            when = f"{WEEKDAYS_JA[days[0]]}曜日から{WEEKDAYS_JA[days[-1]]}曜日"
        else:
            when = "・".join(f"{WEEKDAYS_JA[d]}曜日" for d in days)
        times = "と".join(f"{_clock(s)}から{_clock(e)}" for s, e in spans)
        parts.append(f"{when}の{times}まで")
    closed = []
    if hours.public_holidays:
        closed.append("祝日")
    if any(d.startswith(("12-", "01-")) for d in hours.closed_days):
        closed.append("年末年始")
    tail = f"({'と'.join(closed)}は休み)" if closed else ""
    return "、".join(parts) + tail
