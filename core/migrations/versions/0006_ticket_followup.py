"""ticket follow-up: consent-B question id, first staff reply, crisis outcome, call-back

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes

import core.crypto


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_b_question', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('first_staff_reply_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('crisis_outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('crisis_outcome_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('callback_phone', core.crypto.EncryptedText(), nullable=True))
        batch_op.add_column(sa.Column('callback_window', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('callback_window')
        batch_op.drop_column('callback_phone')
        batch_op.drop_column('crisis_outcome_at')
        batch_op.drop_column('crisis_outcome')
        batch_op.drop_column('first_staff_reply_at')
        batch_op.drop_column('consent_b_question')
