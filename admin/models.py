"""Staff accounts, their sessions, the audit log and login throttling.

Secrets never leave this module's tables: Public schemas list their fields on purpose and
carry no password hash, TOTP secret, session token or token hash.
"""
from __future__ import annotations

import enum
import re
from datetime import datetime

from pydantic import field_validator
from sqlalchemy import Column, UniqueConstraint, event, inspect
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from core.clock import now
from core.crypto import EncryptedText
from core.rows import saved_id


class Role(str, enum.Enum):
    admin = "admin"  # accounts, settings, audit log, erasure by user id (never transcripts)
    staff = "staff"  # the hand-off queue, transcripts and their disclosure export
    editor = "editor"  # the knowledge base


ROLE_NAMES = {r.value for r in Role}


def _check_roles(v: list[str]) -> list[str]:
    roles = sorted(set(v))
    unknown = set(roles) - ROLE_NAMES
    if unknown or not roles:
        raise ValueError(f"roles must be a non-empty subset of {sorted(ROLE_NAMES)}")
    return roles


# --- staff users -----------------------------------------------------------------------------

class StaffUserBase(SQLModel):
    username: str = Field(min_length=2, max_length=40)
    display_name: str = Field(default="", max_length=60)


class StaffUser(StaffUserBase, table=True):
    """A console account. ``roles`` is comma-separated; several roles are allowed."""

    __tablename__ = "staff_user"
    __table_args__ = (UniqueConstraint("username"),)
    id: int | None = Field(default=None, primary_key=True)
    roles: str = ""
    password_hash: str
    must_change_password: bool = True
    totp_secret: str | None = Field(default=None, sa_column=Column(EncryptedText))
    totp_last_step: int = 0  # the last accepted TOTP time step: a code is never accepted twice
    disabled: bool = False
    created_at: datetime = Field(default_factory=now)
    password_changed_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_secret is not None


class StaffUserCreate(StaffUserBase):
    model_config = SQLModelConfig(extra="forbid")
    roles: list[str]

    _roles = field_validator("roles")(lambda cls, v: _check_roles(v))

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{2,40}", v):
            raise ValueError("letters, digits, '.', '_' and '-' only")
        return v.lower()


class StaffUserUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")
    display_name: str | None = Field(default=None, max_length=60)
    roles: list[str] | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_roles(v)


class StaffUserPublic(StaffUserBase):
    id: int
    roles: list[str]
    disabled: bool
    totp_enrolled: bool
    must_change_password: bool
    created_at: datetime

    @classmethod
    def of(cls, user: StaffUser) -> StaffUserPublic:
        return cls(
            id=saved_id(user),
            username=user.username,
            display_name=user.display_name,
            roles=sorted(user.role_set),
            disabled=user.disabled,
            totp_enrolled=user.totp_enrolled,
            must_change_password=user.must_change_password,
            created_at=user.created_at,
        )


class StaffUserCreated(SQLModel):
    """Returned once when an account is created or its password reset."""

    user: StaffUserPublic
    one_time_password: str


# --- sessions --------------------------------------------------------------------------------

class SessionStage(str, enum.Enum):
    password_ok = "password_ok"  # password checked, TOTP still to come
    change_password = "change_password"  # first login: must set a new password
    enroll_totp = "enroll_totp"  # must enrol TOTP before anything else
    full = "full"  # fully authenticated


class StaffSession(SQLModel, table=True):
    """A console session; only the SHA-256 of its random token is stored."""

    __tablename__ = "staff_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    staff_id: int = Field(foreign_key="staff_user.id", index=True)
    stage: str = SessionStage.full.value
    created_at: datetime = Field(default_factory=now)
    last_seen_at: datetime = Field(default_factory=now)
    ip: str | None = None
    # why on the session, not the account: the secret offered during enrolment belongs to the
    # browser that asked for it; another half-signed-in session of the same account (someone
    # who has the one-time password too) must not see or confirm it
    totp_pending_secret: str | None = Field(default=None, sa_column=Column("totp_pending_secret", EncryptedText))


# --- audit log -------------------------------------------------------------------------------

class AuditEvent(SQLModel, table=True):
    """Append-only: who did what to which object, when (UTC) and from where. Never message text."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now, index=True)
    actor_id: int | None = Field(default=None, index=True)
    actor_name: str | None = None
    action: str = Field(index=True)  # e.g. login.ok, ticket.claim, ticket.read, user.erase
    target: str | None = Field(default=None, index=True)  # e.g. ticket:12, user:5, staff:3
    ip: str | None = None
    detail: str | None = None  # short codes only (outcome code, role list), never free text


class AuditEventPublic(SQLModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    target: str | None
    ip: str | None
    detail: str | None


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(_mapper, _conn, _target):
    # why: an audit log someone can edit proves nothing; the database refuses it too (triggers
    # below) and production grants the app's role INSERT/SELECT only (docs/security.md).
    raise PermissionError("audit_event rows are append-only")


# The same rule in the database, for anything that bypasses the ORM (raw SQL, a bulk delete, a
# console on the server). UPDATE is always refused; DELETE only of rows younger than
# AUDIT_KEEP_DAYS, so a future retention purge of old rows stays possible and nothing else is.
# Migration 0007 creates the same triggers on migrated databases (keep the two in step).
AUDIT_KEEP_DAYS = 1095
AUDIT_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event rows are append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_early_delete BEFORE DELETE ON audit_event "
        f"WHEN OLD.at > datetime('now', '-{AUDIT_KEEP_DAYS} days') "
        f"BEGIN SELECT RAISE(ABORT, 'audit_event rows are kept {AUDIT_KEEP_DAYS} days'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' AND OLD.at < now() - interval '{AUDIT_KEEP_DAYS} days' THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION 'audit_event rows are append-only' USING ERRCODE = 'insufficient_privilege'; END $$",
        "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    ],
}


@event.listens_for(inspect(AuditEvent).local_table, "after_create")
def _audit_triggers(_table, connection, **_kw):
    """Creates the triggers wherever the table is made by create_all (tests, early dev)."""
    for statement in AUDIT_TRIGGERS.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


# --- login throttling ------------------------------------------------------------------------

class LoginAttempt(SQLModel, table=True):
    """One login step outcome, for throttling (per account+IP, per IP, per account)."""

    __tablename__ = "login_attempt"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now, index=True)
    username: str = Field(index=True)  # lower-cased as typed (may be unknown)
    ip: str = Field(index=True)
    ok: bool = False
