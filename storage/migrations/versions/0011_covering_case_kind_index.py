"""sla_clocks case index covers the ledger's join (department, used_minutes, stopped_at)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COVERING = ["case_id", "kind", "department", "used_minutes", "stopped_at"]


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_case_kind")
        batch_op.create_index("ix_sla_clocks_case_kind", COVERING, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_case_kind")
        batch_op.create_index("ix_sla_clocks_case_kind", ["case_id", "kind"], unique=False)
