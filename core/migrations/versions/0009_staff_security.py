"""staff security: the pending TOTP secret moves to the session; audit_event append-only triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:00:00

Why the triggers live here and in admin/models.py: a migrated database gets them from this
file, a database made by create_all (tests) from the model's after_create hook. UPDATE of an
audit row is refused; DELETE only of rows older than 1095 days (docs/security.md).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import core.crypto


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEEP_DAYS = 1095  # admin.models.AUDIT_KEEP_DAYS when this revision was written

SQLITE_UP = [
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event rows are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_early_delete BEFORE DELETE ON audit_event "
    f"WHEN OLD.at > datetime('now', '-{KEEP_DAYS} days') "
    f"BEGIN SELECT RAISE(ABORT, 'audit_event rows are kept {KEEP_DAYS} days'); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_early_delete",
]
POSTGRES_UP = [
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN IF TG_OP = 'DELETE' AND OLD.at < now() - interval '{KEEP_DAYS} days' THEN RETURN OLD; END IF; "
    "RAISE EXCEPTION 'audit_event rows are append-only' USING ERRCODE = 'insufficient_privilege'; END $$",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]


def _run(statements: dict[str, list[str]]) -> None:
    bind = op.get_bind()
    for statement in statements.get(bind.dialect.name, []):
        op.execute(sa.text(statement))


def upgrade() -> None:
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending_secret', core.crypto.EncryptedText(), nullable=True))
    # why dropped, not moved: a pending secret was shared by every session of the account; the
    # people in the middle of enrolling simply get a fresh QR code on their next page load
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('totp_pending_secret')
    _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP})


def downgrade() -> None:
    _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN})
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending_secret', core.crypto.EncryptedText(), nullable=True))
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.drop_column('totp_pending_secret')
