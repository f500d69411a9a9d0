"""drop the single-column indexes on the clocks' status and department

Every clock written touched them (two of the ~35 B-trees a case's opening writes); no read needs
them: each query on ``sla_clocks`` that names a department or a status also names the clock's
kind or a period, which the report indexes lead with (``ix_sla_clocks_by_department``, ``_report``,
``_open``, ``_finished``, ``_breached``), and the one that read by department alone (the cases a
department took part in, reports/ledger.py) now names the kinds. Without statistics (SQLite
databases are never analysed by slaflow) SQLite chose ``ix_sla_clocks_status`` for the ledger's
breach shares: every breached clock of all time read in place of the period's range.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_sla_clocks_status", table_name="sla_clocks")
    op.drop_index("ix_sla_clocks_department", table_name="sla_clocks")


def downgrade() -> None:
    op.create_index("ix_sla_clocks_department", "sla_clocks", ["department"], unique=False)
    op.create_index("ix_sla_clocks_status", "sla_clocks", ["status"], unique=False)
