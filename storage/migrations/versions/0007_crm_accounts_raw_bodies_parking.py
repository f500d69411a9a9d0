"""inbox: the account a webhook authenticated with, its raw bytes when text cannot hold them,
and the expiry of a parked event

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("raw_body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_inbox_parked", ["status", "source", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_parked")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("raw_body")
        batch_op.drop_column("account")
