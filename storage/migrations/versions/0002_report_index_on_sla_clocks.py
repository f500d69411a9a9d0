"""report index on sla_clocks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:27:58.953293
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sla_clocks_report",
            ["kind", "started_at", "department", "status", "used_minutes", "target_minutes", "stopped_at", "case_id"],
            unique=False,
            postgresql_include=["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_report", postgresql_include=["id"])
