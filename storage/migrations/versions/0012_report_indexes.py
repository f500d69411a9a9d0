"""report indexes on sla_clocks: the period's clocks by department, and the open clocks

``ix_sla_clocks_by_department`` holds the report index's columns with ``department`` second, so a
period's clocks of one department are one contiguous range: SQLite groups them by department
without sorting (`reports.scope.clock_departments`) and both databases read one department's
finished steps for its percentiles (`reports.steps`). ``ix_sla_clocks_open`` is partial (open
clocks only, a few per case in progress), so finding a period's open clocks no longer scans the
period's settled ones.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BY_DEPARTMENT = ["kind", "department", "started_at", "status", "used_minutes", "target_minutes", "stopped_at", "case_id"]
OPEN = sa.text("stopped_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clocks_by_department", BY_DEPARTMENT, unique=False, postgresql_include=["id"])
        batch_op.create_index(
            "ix_sla_clocks_open", ["kind", "started_at"], unique=False, sqlite_where=OPEN, postgresql_where=OPEN
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_open")
        batch_op.drop_index("ix_sla_clocks_by_department", postgresql_include=["id"])
