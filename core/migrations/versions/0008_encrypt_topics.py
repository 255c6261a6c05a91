"""topics and intents encrypted like text

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:30:00.000000

What a turn was about (``message.intent``, ``message.entry_id``, ``ticket.answered_topics``)
is as sensitive as its text. The columns become ``EncryptedText``; values of turns without
consent A (``message.body`` empty) and of tickets whose user declined are dropped, the rest
are encrypted here with the service's data key (configured as ``ristapo serve`` does).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes

import core.crypto


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = (("message", ("intent", "entry_id")), ("ticket", ("answered_topics",)))
BATCH = 500


def _ring():
    ring = core.crypto.keyring()
    if not ring.keys:
        from core.settings import get_settings

        s = get_settings()
        ring = core.crypto.configure(
            data_key=s.data_key, key_file=s.data_key_file, data_dir=s.data_dir, production=s.env == "production"
        )
    return ring


def _encrypt_plain(conn, table: str, columns: tuple[str, ...]) -> None:
    t = sa.table(table, sa.column("id"), *(sa.column(c, sa.Text) for c in columns))
    has_value = sa.or_(*(t.c[c].is_not(None) for c in columns))
    rows = conn.execute(sa.select(t).where(has_value)).all()
    if not rows:
        return
    ring = _ring()
    for start in range(0, len(rows), BATCH):
        for row in rows[start : start + BATCH]:
            values = {c: ring.encrypt(getattr(row, c)) for c in columns if getattr(row, c) is not None and not str(getattr(row, c)).startswith("enc1:")}
            if values:
                conn.execute(sa.update(t).where(t.c.id == row.id).values(**values))


def upgrade() -> None:
    conn = op.get_bind()
    # without consent A nothing of what the user asked is kept, not even its topic
    conn.execute(sa.text("UPDATE message SET intent = NULL, entry_id = NULL, entry_version = NULL, score = NULL WHERE body IS NULL"))
    conn.execute(sa.text("UPDATE ticket SET answered_topics = NULL WHERE consent_declined"))
    for table, columns in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=sqlmodel.sql.sqltypes.AutoString(), type_=core.crypto.EncryptedText(), existing_nullable=True)
    for table, columns in COLUMNS:
        _encrypt_plain(conn, table, columns)


def downgrade() -> None:
    # the values stay encrypted tokens (decrypting needs the key; a downgrade keeps them unreadable rather than plain)
    for table, columns in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=core.crypto.EncryptedText(), type_=sqlmodel.sql.sqltypes.AutoString(), existing_nullable=True)
