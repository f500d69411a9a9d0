"""two partial indexes for the reports: the finished step clocks by department, and the breached
clocks by period

``ix_sla_clocks_finished`` holds only stopped step clocks with a target, with the columns the step
counts and the percentiles read: a department's finished steps of a period are one range of an
index about half the size of ``ix_sla_clocks_by_department`` (1M cases on PostgreSQL: a
department's percentile 107-121 -> 60-77 ms, the counts 206-297 -> 180-186 ms; the open steps are
counted from ``ix_sla_clocks_open``). ``ix_sla_clocks_breached`` holds only breached clocks: the
ledger's breach shares and the late cases read the period's breached whole-case clocks (a few
percent) instead of every whole-case clock of the period (shares 0.11 -> 0.05 s).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

FINISHED = ["kind", "department", "started_at", "status", "used_minutes", "target_minutes", "case_id", "stopped_at"]
FINISHED_WHERE = "stopped_at IS NOT NULL AND target_minutes IS NOT NULL"
BREACHED = ["kind", "started_at", "department", "case_id", "used_minutes", "target_minutes", "stopped_at"]
BREACHED_WHERE = "status = 'breached'"
"""Frozen as written in this revision (the model declares it from ``ClockStatus``)."""


def upgrade() -> None:
    op.create_index(
        "ix_sla_clocks_finished", "sla_clocks", FINISHED, unique=False, postgresql_include=["id"],
        sqlite_where=sa.text(FINISHED_WHERE), postgresql_where=sa.text(FINISHED_WHERE),
    )
    op.create_index(
        "ix_sla_clocks_breached", "sla_clocks", BREACHED, unique=False, postgresql_include=["id"],
        sqlite_where=sa.text(BREACHED_WHERE), postgresql_where=sa.text(BREACHED_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_breached", table_name="sla_clocks")
    op.drop_index("ix_sla_clocks_finished", table_name="sla_clocks")
