"""queue tables: vacuum and analyze inbox_event and outbox_message often (PostgreSQL)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 19:45:00

Why: a row of these tables goes from pending to done within seconds, so their partial
indexes on pending/open rows fill with dead entries, and their statistics age quickly (a
fresh table is planned as empty). The default thresholds (20 % of the table) let the
workers' oldest-first scans slow down tenfold under a sustained backlog
(docs/performance.md). Storage parameters only; SQLite has nothing to set.
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

QUEUE_TABLES = ("inbox_event", "outbox_message")
SETTINGS = (
    "autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 2000, "
    "autovacuum_analyze_scale_factor = 0.0, autovacuum_analyze_threshold = 2000, "
    "autovacuum_vacuum_cost_delay = 0"
)
RESET = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor, "
    "autovacuum_analyze_threshold, autovacuum_vacuum_cost_delay"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in QUEUE_TABLES:
        op.execute(f"ALTER TABLE {table} SET ({SETTINGS})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in QUEUE_TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({RESET})")
