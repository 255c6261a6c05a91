"""Request and response schemas of the admin API (STYLE.md §2: explicit Public schemas only).

Request bodies refuse unknown fields; responses list their fields on purpose, so no platform id,
hash or message text can leak through a schema that grew a column.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from admin.models import StaffUserPublic
from admin.params import DbIdField
from handoff.models import Outcome


class Request_(BaseModel):
    """Base of every request body: unknown fields are an error (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Request_):
    username: str = Field(max_length=80)
    password: str = Field(max_length=256)


class CodeRequest(Request_):
    code: str = Field(max_length=10)


class NewPasswordRequest(Request_):
    new_password: str = Field(max_length=256)


class ChangePasswordRequest(Request_):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class ReplyRequest(Request_):
    text: str = Field(min_length=1, max_length=2000)


class NoteRequest(Request_):
    body: str = Field(min_length=1, max_length=4000)


class TagsRequest(Request_):
    tags: list[str] = Field(max_length=20)


class CloseRequest(Request_):
    outcome: Outcome
    tell_user: bool = True


class ReturnRequest(Request_):
    tell_user: bool = True


class TransferRequest(Request_):
    staff_id: DbIdField


class CrisisOutcomeRequest(Request_):
    outcome: str = Field(pattern="^(advised_emergency|reached)$")


class OrganisationRequest(Request_):
    organisation: str = Field(min_length=1, max_length=100)


class LoginStepPublic(BaseModel):
    next: str  # totp | change_password | enroll_totp | done
    csrf_token: str


class MePublic(BaseModel):
    user: StaffUserPublic
    csrf_token: str


class OkPublic(BaseModel):
    ok: bool = True


class ReplyPublic(BaseModel):
    outbox_id: str


class NoteCreatedPublic(BaseModel):
    id: int


class ColleaguePublic(BaseModel):
    id: int
    display_name: str


class EnrolmentPublic(BaseModel):
    secret: str  # for typing into the app by hand when the QR cannot be scanned
    otpauth_uri: str
    qr_svg_data_url: str


class HoursStatusPublic(BaseModel):
    open_now: bool
    reason: str
    holiday_name: str | None
    closes_at: datetime | None
    next_open: datetime | None


class ChannelUserPublic(BaseModel):
    id: int
    pseudonym: str
    channel: str
    active: bool
    created_at: datetime


class OneTimePasswordPublic(BaseModel):
    one_time_password: str

