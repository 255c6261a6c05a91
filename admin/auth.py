"""Passwords (argon2id), TOTP (pyotp) with reuse prevention, sessions, CSRF and login throttling.

Policy in numbers (docs/security.md explains the why):
- passwords ≥ 12 characters, not in ``admin/common-passwords.txt``, not containing the username;
- sessions: 256-bit random tokens, only their SHA-256 stored; idle 30 min, absolute 10 h;
  a half-finished login (password checked, TOTP not yet) lives 10 min;
- CSRF: the token is HMAC(session token, "csrf"): sent in a readable ``__Host-`` cookie and
  echoed in ``X-CSRF-Token`` (or a ``csrf_token`` form field) on every state-changing request;
- throttling: see :func:`throttle_wait`; never a lockout an attacker can trigger.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, text, update
from sqlmodel import Session, col, select

from admin.models import LoginAttempt, SessionStage, StaffSession, StaffUser
from core.clock import now
from core.rows import saved_id

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=10)
PARTIAL_TIMEOUT = timedelta(minutes=10)
TOUCH_EVERY = timedelta(seconds=60)  # why: one write per minute per session, not per request

SESSION_COOKIE = "__Host-ristapo_session"
CSRF_COOKIE = "__Host-ristapo_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

TOTP_ISSUER = "ristapo"
TOTP_INTERVAL = 30

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 defaults
# why: an unknown username is checked against this hash so it costs the same time as a known one
_DUMMY_HASH = _hasher.hash("ristapo-dummy-password-for-timing")


# --- passwords -------------------------------------------------------------------------------

@lru_cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, username: str) -> list[str]:
    """Why ``password`` is refused (empty list = acceptable). Messages are for the person choosing it."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"パスワードは{PASSWORD_MIN_LENGTH}文字以上にしてください。")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"パスワードは{PASSWORD_MAX_LENGTH}文字以下にしてください。")
    lowered = password.lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!?@#.") in common_passwords():
        problems.append("よく使われているパスワードです。別のものにしてください。")
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append("ユーザー名を含まないパスワードにしてください。")
    if len(set(password)) < 4:
        problems.append("同じ文字のくり返しが多すぎます。")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; a missing hash (unknown user) still runs argon2 on a dummy."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_one_time_password() -> str:
    """A random 20-character password shown once (e.g. ``k7Qm-2xPd-...``)."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


# --- TOTP ------------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def qr_svg_data_url(uri: str) -> str:
    """The QR code of ``uri`` as an SVG data URL (no external image service sees the secret)."""
    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="svg", scale=4, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def totp_step_for(secret: str, code: str, *, at: datetime | None = None) -> int | None:
    """The time step whose code equals ``code`` (current ±1 step for clock drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int((at or now()).timestamp()) // TOTP_INTERVAL
    found = None
    for step in (current - 1, current, current + 1):
        # why compare all three: constant work whichever step matches
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def do_accept_totp_step(session: Session, user: StaffUser, step: int) -> bool:
    """Marks ``step`` used; False when it (or a later step) was already used.

    One conditional UPDATE, so two parallel logins with the same code cannot both pass.
    """
    result = session.exec(
        update(StaffUser)
        .where(col(StaffUser.id) == user.id, col(StaffUser.totp_last_step) < step)
        .values(totp_last_step=step)
    )
    if result.rowcount != 1:
        return False
    user.totp_last_step = step
    return True


# --- sessions and CSRF -----------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token: str) -> str:
    """The CSRF token bound to a session token (HMAC, so it reveals nothing about the token)."""
    return hmac.new(token.encode(), b"ristapo-csrf", hashlib.sha256).hexdigest()


def csrf_ok(token: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token_for(token), presented or "")


def do_create_session(session: Session, user: StaffUser, *, stage: SessionStage, ip: str | None) -> str:
    """Adds a session row and returns its raw token (shown to the browser once, stored hashed)."""
    token = secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
    session.add(StaffSession(token_hash=hash_token(token), staff_id=saved_id(user), stage=stage.value, ip=ip))
    session.flush()
    return token


def find_session(session: Session, token: str | None) -> tuple[StaffSession, StaffUser] | None:
    """The live session and its enabled user for ``token``, or None (expired sessions are deleted)."""
    if not token or len(token) > 200:
        return None
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == hash_token(token))).first()
    if row is None:
        return None
    user = session.get(StaffUser, row.staff_id)
    at = now()
    limit = ABSOLUTE_TIMEOUT if row.stage == SessionStage.full.value else PARTIAL_TIMEOUT
    expired = at - row.created_at > limit or at - row.last_seen_at > IDLE_TIMEOUT
    if user is None or user.disabled or expired:
        session.delete(row)
        session.flush()
        return None
    return row, user


def touch_session(row: StaffSession) -> bool:
    """Moves the idle deadline; True when the row changed (caller commits)."""
    at = now()
    if at - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = at
        return True
    return False


def do_end_session(session: Session, row: StaffSession) -> None:
    session.delete(row)
    session.flush()


def do_end_all_sessions(session: Session, staff_id: int) -> int:
    """Kills every session of a staff member at once (logout everywhere, disabling, reset)."""
    result = session.exec(delete(StaffSession).where(col(StaffSession.staff_id) == staff_id))
    return result.rowcount or 0


def do_purge_expired_sessions(session: Session, *, at: datetime) -> int:
    """Deletes sessions past the idle or the absolute limit (retention, bot/retention.py); caller commits."""
    expired = (col(StaffSession.created_at) < at - ABSOLUTE_TIMEOUT) | (col(StaffSession.last_seen_at) < at - IDLE_TIMEOUT)
    return session.exec(delete(StaffSession).where(expired)).rowcount or 0


def do_purge_login_attempts(session: Session, *, before: datetime) -> int:
    """Deletes login attempts (usernames and IPs) older than ``before``; caller commits."""
    return session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < before)).rowcount or 0


# --- login throttling ------------------------------------------------------------------------

THROTTLE_WINDOW = timedelta(minutes=15)
PAIR_FREE_FAILURES = 5  # per account + IP: then 2, 4, 8 … s between tries, at most 15 min
PAIR_MAX_DELAY = 15 * 60
IP_MAX_FAILURES = 30  # per IP, any account: then wait until the window slides
ACCOUNT_SOFT_FAILURES = 20  # per account, any IP: a bounded delay (≤ 60 s), never a lockout
ACCOUNT_MAX_DELAY = 60


def _failures(session: Session, *, since: datetime, username: str | None = None, ip: str | None = None, exclude_id: int | None = None) -> list[datetime]:
    q = select(LoginAttempt.at).where(LoginAttempt.at >= since, LoginAttempt.ok == False)  # noqa: E712
    if exclude_id is not None:
        q = q.where(LoginAttempt.id != exclude_id)
    if username is not None:
        q = q.where(LoginAttempt.username == username)
    if ip is not None:
        q = q.where(LoginAttempt.ip == ip)
    return sorted(session.exec(q).all())


def _last_success(session: Session, username: str, ip: str) -> datetime | None:
    q = select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.ok == True)  # noqa: E712
    return session.exec(q).one()


def throttle_wait(session: Session, *, username: str, ip: str, exclude_id: int | None = None) -> int:
    """Seconds this (account, IP) must wait before its next login try; 0 = go ahead.

    Why three keys: the per account+IP delay stops guessing from one place without locking
    the real person out from their own desk; the per-IP cap stops spraying many accounts;
    the per-account delay is capped at a minute so a distributed attacker can slow staff
    down but never lock them out. Tries refused here are not counted (no self-extension).
    """
    at = now()
    username = username.lower()
    since = at - THROTTLE_WINDOW
    waits = [0.0]
    last_ok = _last_success(session, username, ip)
    pair = [t for t in _failures(session, since=since, username=username, ip=ip, exclude_id=exclude_id) if last_ok is None or t > last_ok]
    if len(pair) >= PAIR_FREE_FAILURES:
        delay = min(2 ** (len(pair) - PAIR_FREE_FAILURES + 1), PAIR_MAX_DELAY)
        waits.append((pair[-1] + timedelta(seconds=delay) - at).total_seconds())
    by_ip = _failures(session, since=since, ip=ip, exclude_id=exclude_id)
    if len(by_ip) >= IP_MAX_FAILURES:
        waits.append((by_ip[-IP_MAX_FAILURES] + THROTTLE_WINDOW - at).total_seconds())
    by_account = _failures(session, since=since, username=username, exclude_id=exclude_id)
    if len(by_account) >= ACCOUNT_SOFT_FAILURES:
        delay = min(2 ** (len(by_account) - ACCOUNT_SOFT_FAILURES + 1), ACCOUNT_MAX_DELAY)
        waits.append((by_account[-1] + timedelta(seconds=delay) - at).total_seconds())
    wait = max(waits)
    return int(wait) + (1 if wait > int(wait) else 0)


@dataclass(frozen=True)
class AttemptClaim:
    """One login try, counted before its password or code is checked."""

    id: int | None  # its ledger row (a failure until settled); None when refused
    wait: int  # seconds to wait; > 0 means refused, and then nothing was counted


THROTTLE_LOCK_KEY = 0x7269_7374  # PostgreSQL advisory lock serialising the throttle ledger


def claim_attempt(session: Session, *, username: str, ip: str) -> AttemptClaim:
    """Counts this try before any password or code is checked: (row, wait).

    Why first, and why atomic: fifty parallel wrong passwords used to all read "no failures
    yet" and then all run argon2 (the audit saw 16 checks for a limit of 5). Now each try
    writes its row and counts the rows before it inside one short transaction of its own,
    committed at once, while holding the ledger's write lock (SQLite: the insert takes the
    database write lock; PostgreSQL: a transaction advisory lock), so no two tries can count
    the same predecessors. An allowed try stays counted as a failure until settled; a
    refused one removes its row (refused tries do not extend the wait).
    """
    name = username.lower()[:80]
    with Session(session.get_bind(), expire_on_commit=False) as ledger:
        if ledger.get_bind().dialect.name == "postgresql":
            ledger.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": THROTTLE_LOCK_KEY})
        at = now()
        row = LoginAttempt(username=name, ip=ip, ok=False, at=at)
        ledger.add(row)
        ledger.flush()
        wait = throttle_wait(ledger, username=name, ip=ip, exclude_id=row.id)
        if wait > 0:
            ledger.delete(row)
        ledger.execute(delete(LoginAttempt).where(col(LoginAttempt.at) < at - timedelta(days=1)))
        ledger.commit()
        return AttemptClaim(None if wait > 0 else row.id, wait)


def settle_attempt(session: Session, claim: AttemptClaim, *, ok: bool | None) -> None:
    """The outcome of a claimed try, in the caller's transaction.

    ``ok=False``: it stays a failure. ``ok=True``: a success (a finished login; it resets the
    account+IP delay). ``ok=None``: not counted at all (a right password still waiting for
    its code: no failure, and no reset either, so a known password cannot reset the code's
    delay).
    """
    if claim.id is None or ok is False:
        return
    if ok:
        session.execute(update(LoginAttempt).where(col(LoginAttempt.id) == claim.id).values(ok=True))
    else:
        session.execute(delete(LoginAttempt).where(col(LoginAttempt.id) == claim.id))
