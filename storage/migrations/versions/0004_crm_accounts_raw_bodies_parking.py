"""inbox: the account a webhook authenticated with, its raw bytes when text cannot hold them,
and the expiry of a parked event; the OAuth tokens a CRM rotates

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("raw_body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_inbox_parked", ["status", "source", "expires_at"], unique=False)
    op.create_table(
        "crm_api_tokens",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "account", name=op.f("pk_crm_api_tokens")),
    )


def downgrade() -> None:
    op.drop_table("crm_api_tokens")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_parked")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("raw_body")
        batch_op.drop_column("account")
