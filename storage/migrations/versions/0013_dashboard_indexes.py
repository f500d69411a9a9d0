"""dashboard indexes: open cases by nearest deadline (partial), case type with opened_at

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_cases_open_by_due", "cases", ["due_at", "id"], unique=False, sqlite_where=OPEN,
                    postgresql_where=OPEN)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_case_type")
        batch_op.create_index("ix_cases_case_type", ["case_type", "opened_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_open_by_due", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_case_type")
        batch_op.create_index("ix_cases_case_type", ["case_type"], unique=False)
