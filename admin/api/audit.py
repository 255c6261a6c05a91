"""The audit log (admin only): filtered reads and the CSV export (itself audited)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Response

from admin import audit
from admin.api.access import ADMIN, RouteSpec, build_router
from admin.deps import CurrentActor, SessionDep
from admin.models import AuditEventPublic
from admin.params import OptionalDbIdQuery, PageLimit, PageOffset


@dataclass
class AuditFilter:
    actor_id: int | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _audit_filter(
    actor_id: OptionalDbIdQuery = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    target: Annotated[str | None, Query(max_length=80)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilter:
    return AuditFilter(actor_id, action, target, since, until)


AuditFilterDep = Annotated[AuditFilter, Depends(_audit_filter)]


def read_audit(session: SessionDep, f: AuditFilterDep, limit: PageLimit = 200, offset: PageOffset = 0) -> list[AuditEventPublic]:
    """Audit rows, newest first; ``action`` matches a prefix (e.g. ``ticket.``)."""
    rows = audit.list_events(session, **vars(f), limit=limit, offset=offset)
    return [AuditEventPublic.model_validate(r, from_attributes=True) for r in rows]


def export_audit_csv(session: SessionDep, actor: CurrentActor, f: AuditFilterDep) -> Response:
    """The filtered audit log as CSV (the export itself is audited)."""
    rows = audit.list_events(session, **vars(f), limit=100_000)
    actor.audit(session, "audit.export", None, detail=f"rows:{len(rows)}")
    session.commit()
    return Response(
        audit.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ristapo-audit.csv"', "Cache-Control": "no-store"},
    )



ROUTES: list[RouteSpec] = [
    RouteSpec("GET", "/audit", read_audit, ADMIN),
    RouteSpec("GET", "/audit.csv", export_audit_csv, ADMIN),
]
router = build_router(ROUTES)
