"""breach reviews (causes and exemptions of breaches, with their audit events) and case watchers

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "breach_reviews",
        sa.Column("breach_id", sa.Integer(), nullable=False),
        sa.Column("clock_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("cause_note", sa.Text(), nullable=True),
        sa.Column("cause_by", sa.String(length=128), nullable=True),
        sa.Column("cause_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exemption", sa.String(length=16), nullable=True),
        sa.Column("exemption_reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["breach_id"], ["breaches.id"], name=op.f("fk_breach_reviews_breach_id_breaches"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["clock_id"], ["sla_clocks.id"], name=op.f("fk_breach_reviews_clock_id_sla_clocks"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("breach_id", name=op.f("pk_breach_reviews")),
        sa.UniqueConstraint("clock_id", name=op.f("uq_breach_reviews_clock_id")),
    )
    op.create_index(op.f("ix_breach_reviews_exemption"), "breach_reviews", ["exemption"], unique=False)
    op.create_table(
        "breach_review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("breach_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["breach_id"], ["breaches.id"],
                                name=op.f("fk_breach_review_events_breach_id_breaches"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_review_events")),
    )
    op.create_index(op.f("ix_breach_review_events_breach_id"), "breach_review_events", ["breach_id"], unique=False)
    op.create_table(
        "case_watchers",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_watchers_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "person", name=op.f("pk_case_watchers")),
    )


def downgrade() -> None:
    op.drop_table("case_watchers")
    op.drop_index(op.f("ix_breach_review_events_breach_id"), table_name="breach_review_events")
    op.drop_table("breach_review_events")
    op.drop_index(op.f("ix_breach_reviews_exemption"), table_name="breach_reviews")
    op.drop_table("breach_reviews")
