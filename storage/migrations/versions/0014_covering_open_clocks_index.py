"""the index of open clocks covers what judging them reads: department, status, target,
deadline, suspension, case (and the id on PostgreSQL)

``ix_sla_clocks_open`` held only ``(kind, started_at)``: counting a period's running steps and
finding those breached at ``now`` (`reports.steps`, the dashboard's compliance figures) read
every open clock of the period from the table (PostgreSQL: 15 ms of random reads for a week of
1,549 open steps at 100,000 open cases, bench/dashboard.py; 0.8 ms from this index). It stays
partial (open clocks only, a few per case in progress) and keeps its leading columns, so the
reads by period that used it still do. ``stopped_at`` (always NULL in it) is there for SQLite,
which counts an index as covering only when it holds every column a query names.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OPEN = sa.text("stopped_at IS NULL")
COVERING = ["kind", "started_at", "department", "status", "target_minutes", "deadline_at", "paused_since", "case_id",
            "stopped_at"]


def upgrade() -> None:
    op.drop_index("ix_sla_clocks_open", table_name="sla_clocks", sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_sla_clocks_open", "sla_clocks", COVERING, unique=False, sqlite_where=OPEN,
                    postgresql_where=OPEN, postgresql_include=["id"])


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_open", table_name="sla_clocks", sqlite_where=OPEN, postgresql_where=OPEN,
                  postgresql_include=["id"])
    op.create_index("ix_sla_clocks_open", "sla_clocks", ["kind", "started_at"], unique=False, sqlite_where=OPEN,
                    postgresql_where=OPEN)
