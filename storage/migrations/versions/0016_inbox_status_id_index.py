"""the inbox's status index is ordered by id: the processor reads the oldest ``received`` rows
after the last one it read, in id order

``ix_inbox_status`` held ``(status, received_at)``, which no query orders by: finding a batch of
received rows read every received row and sorted them by id (SQLite: a temporary b-tree of the
whole backlog, bodies included, for each batch of a few rows, bench/webhooks.py). On
``(status, id)`` a batch is a range of the index, whatever the backlog; the other status queries
(failed rows to retry, the inbox list by status) also order by id.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_inbox_status", table_name="inbox_events")
    op.create_index("ix_inbox_status", "inbox_events", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inbox_status", table_name="inbox_events")
    op.create_index("ix_inbox_status", "inbox_events", ["status", "received_at"], unique=False)
