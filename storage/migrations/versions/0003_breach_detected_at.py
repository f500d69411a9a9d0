"""breaches: detected_at, the moment a breach was recorded (breached_at keeps the deadline)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detected_at", sa.DateTime(timezone=True), nullable=True))
    # Rows written before this revision only know the deadline.
    op.execute("UPDATE breaches SET detected_at = breached_at WHERE detected_at IS NULL")
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.alter_column("detected_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.drop_column("detected_at")
