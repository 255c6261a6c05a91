"""Users of the chat: lookup and erasure (admin), disclosure of their transcripts (staff)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from admin import accounts, disclosure
from admin.api.access import ADMIN, STAFF, RouteSpec, build_router
from admin.api.schemas import ChannelUserPublic, OkPublic
from admin.deps import CurrentActor, SessionDep
from admin.params import DbId
from core.models import ChannelUser

# --- users of the chat: lookup and erasure (admin), disclosure (staff) -----------------------------------

def _channel_user(session: Session, user_id: int) -> ChannelUser:
    user = session.get(ChannelUser, user_id)
    if user is None:
        raise accounts.NotFound()
    return user


def find_users(session: SessionDep, pseudonym: Annotated[str, Query(min_length=4, max_length=20)]) -> list[ChannelUserPublic]:
    """Finds chat users by pseudonym (e.g. 相談者 A7K2 or just A7K2)."""
    code = pseudonym.replace("相談者", "").strip().upper()
    rows = session.exec(select(ChannelUser).where(ChannelUser.pseudonym == f"相談者 {code}")).all()
    return [ChannelUserPublic(id=u.id, pseudonym=u.pseudonym, channel=u.channel, active=u.active, created_at=u.created_at) for u in rows]


def erase_user(user_id: DbId, session: SessionDep, actor: CurrentActor) -> OkPublic:
    """Erases everything a chat user wrote and every note about them (their request); audited."""
    from handoff.erase import do_erase_user

    user = _channel_user(session, user_id)
    do_erase_user(session, user)
    actor.audit(session, "user.erase", f"user:{user.id}")
    session.commit()
    return OkPublic()


def export_user(user_id: DbId, session: SessionDep, actor: CurrentActor) -> JSONResponse:
    """Disclosure (開示): everything stored about one chat user, as JSON (staff only; audited)."""
    user = disclosure.access_user_transcripts(session, actor, user_id)
    data = disclosure.do_export_user(session, actor, user)
    session.commit()
    return disclosure.attachment(data, user)



ROUTES: list[RouteSpec] = [
    RouteSpec("GET", "/users", find_users, ADMIN),
    RouteSpec("POST", "/users/{user_id}/erase", erase_user, ADMIN),
    RouteSpec("GET", "/users/{user_id}/export", export_user, STAFF),  # transcripts: staff only
]
router = build_router(ROUTES)
