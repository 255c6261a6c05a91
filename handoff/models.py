"""Hand-off tables: tickets, private notes, canned replies, referrals and office hours.

Schema families follow ``XBase`` / ``XCreate`` / ``XUpdate`` / ``XPublic`` + ``X(table=True)``:
request schemas forbid extra fields (a smuggled ``assignee_id`` is a 422, not ignored), and
Public schemas list their fields on purpose so nothing personal leaks by accident.
"""
from __future__ import annotations

import enum
from datetime import datetime

from pydantic import field_validator
from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from core.clock import now
from core.crypto import EncryptedText


class TicketState(str, enum.Enum):
    waiting = "waiting"
    claimed = "claimed"
    closed = "closed"
    returned_to_bot = "returned_to_bot"


OPEN_STATES = (TicketState.waiting.value, TicketState.claimed.value)


class Outcome(str, enum.Enum):
    """The short outcome code a ticket is closed with."""

    information = "情報提供"
    referred = "機関につないだ"
    ongoing = "継続"
    other = "その他"


class CrisisOutcome(str, enum.Enum):
    """What staff did about a crisis ticket, recorded with one tap and counted on the dashboard."""

    advised_emergency = "110番・119番をすすめた"
    reached = "連絡がとれた"


class ConsentB(str, enum.Enum):
    """Consent B (sharing with another organisation), asked per ticket through the bot."""

    not_asked = "not_asked"
    requested = "requested"
    given = "given"
    declined = "declined"


class Ticket(SQLModel, table=True):
    """One hand-off of a conversation to staff. Priority 0 = crisis, 1 = urgent, 2 = normal."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    user_id: int = Field(foreign_key="channel_user.id", index=True)
    state: str = Field(default=TicketState.waiting.value, index=True)
    priority: int = 2
    crisis: bool = False
    consent_declined: bool = False
    assignee_id: int | None = Field(default=None, index=True)
    intake: str | None = Field(default=None, sa_column=Column(EncryptedText))  # JSON
    # comma-separated entry ids the bot already answered; encrypted, none without consent A
    answered_topics: str | None = Field(default=None, sa_column=Column(EncryptedText))
    outcome: str | None = None
    tags: str | None = None  # comma-separated, normalised by handoff.actions
    is_demo: bool = False
    created_at: datetime = Field(default_factory=now, index=True)
    claimed_at: datetime | None = None
    closed_at: datetime | None = Field(default=None, index=True)
    closed_by: int | None = None
    last_user_message_at: datetime | None = None
    last_staff_reply_at: datetime | None = None
    unread: int = 0
    consent_b: str = ConsentB.not_asked.value
    consent_b_org: str | None = None  # the organisation named when consent B was asked
    consent_b_at: datetime | None = None
    consent_b_question: str | None = None  # id of the consent-B question in its buttons (a stale one is refused)
    first_staff_reply_at: datetime | None = None  # for "time to first staff reply" on crisis tickets
    crisis_outcome: str | None = None  # a CrisisOutcome value
    crisis_outcome_at: datetime | None = None
    callback_phone: str | None = Field(default=None, sa_column=Column(EncryptedText))  # 電話がいい: number to call back
    callback_window: str | None = None  # e.g. "weekday-am" (a call-back window inside office hours)


class TicketNote(SQLModel, table=True):
    """A private staff note on a ticket; never sent to the user. Body encrypted at rest."""

    __tablename__ = "ticket_note"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    staff_id: int
    body: str | None = Field(default=None, sa_column=Column(EncryptedText))
    created_at: datetime = Field(default_factory=now)


class Referral(SQLModel, table=True):
    """A record that a case was passed to another organisation (needs consent B)."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    organisation: str
    staff_id: int
    consent_id: int  # the consent-B row that allowed it
    created_at: datetime = Field(default_factory=now)


# --- canned replies (定型文), editable by admin --------------------------------------------

class CannedReplyBase(SQLModel):
    title: str = Field(min_length=1, max_length=60)
    body: str = Field(min_length=1, max_length=2000)


class CannedReply(CannedReplyBase, table=True):
    __tablename__ = "canned_reply"
    __table_args__ = (UniqueConstraint("title"),)
    id: int | None = Field(default=None, primary_key=True)
    updated_by: int | None = None
    updated_at: datetime = Field(default_factory=now)


class CannedReplyCreate(CannedReplyBase):
    model_config = SQLModelConfig(extra="forbid")


class CannedReplyUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=60)
    body: str | None = Field(default=None, min_length=1, max_length=2000)


class CannedReplyPublic(CannedReplyBase):
    id: int
    updated_at: datetime


# --- office hours: one settings row (id = 1) -----------------------------------------------

class OfficeHoursBase(SQLModel):
    """When staff read the queue. Times are JST wall-clock "HH:MM"; weekdays 0 = Monday."""

    weekly: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)
    closed_days: list[str] = Field(default_factory=list)  # "MM-DD" every year, e.g. "12-29"
    closed_dates: list[str] = Field(default_factory=list)  # "YYYY-MM-DD" one-off closures
    public_holidays: bool = True  # closed on Japanese public holidays (jpholiday)
    minutes_per_ticket: int = Field(default=20, ge=1, le=600)  # rough handling time for "expected wait"
    # why off by default: the bot offers a call-back after 「電話がいい」 only if the office makes them
    phone_callbacks: bool = False

    @field_validator("weekly")
    @classmethod
    def _check_weekly(cls, v: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        for day, spans in v.items():
            if day not in {str(i) for i in range(7)}:
                raise ValueError("weekday keys are '0' (Monday) .. '6' (Sunday)")
            for start, end in spans:
                if not (_hhmm(start) < _hhmm(end)):
                    raise ValueError("each span is [start, end] with start < end, HH:MM")
        return v

    @field_validator("closed_days")
    @classmethod
    def _check_closed_days(cls, v: list[str]) -> list[str]:
        for item in v:
            month, _, day = item.partition("-")
            if not (month.isdigit() and day.isdigit() and 1 <= int(month) <= 12 and 1 <= int(day) <= 31 and len(item) == 5):
                raise ValueError("closed_days are MM-DD")
        return v

    @field_validator("closed_dates")
    @classmethod
    def _check_closed_dates(cls, v: list[str]) -> list[str]:
        from datetime import date

        for item in v:
            date.fromisoformat(item)
        return v


def _hhmm(value: str) -> int:
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and len(mm) == 2 and 0 <= int(hh) <= 24 and 0 <= int(mm) < 60):
        raise ValueError(f"not HH:MM: {value!r}")
    return int(hh) * 60 + int(mm)


class OfficeHoursUpdate(OfficeHoursBase):
    model_config = SQLModelConfig(extra="forbid")


class OfficeHoursPublic(OfficeHoursBase):
    pass


class OfficeSettings(SQLModel, table=True):
    """The office-hours settings row (JSON), edited by admins; absent = the defaults."""

    __tablename__ = "office_settings"
    id: int = Field(default=1, primary_key=True)
    hours_json: str
    updated_by: int | None = None
    updated_at: datetime = Field(default_factory=now)
