"""Telegram links: one-time link codes and the chat / user each person linked

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_link_codes",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_telegram_link_codes")),
    )
    op.create_index(op.f("ix_telegram_link_codes_person"), "telegram_link_codes", ["person"], unique=False)
    op.create_table(
        "telegram_links",
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person", name=op.f("pk_telegram_links")),
        sa.UniqueConstraint("user_id", name=op.f("uq_telegram_links_user_id")),
    )


def downgrade() -> None:
    op.drop_table("telegram_links")
    op.drop_index(op.f("ix_telegram_link_codes_person"), table_name="telegram_link_codes")
    op.drop_table("telegram_link_codes")
