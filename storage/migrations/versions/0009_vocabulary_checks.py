"""CHECK constraints on the columns that hold a closed vocabulary (core.vocabulary)

The values are written out here as they were when this migration was made: a later change to a
vocabulary gets its own migration that replaces the constraint. On SQLite each table is copied
(batch mode), with foreign keys off for the migration (storage/migrations/env.py).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "case_participants": (
        ("ck_case_participants_role", "role IN ('requester', 'performer', 'owner')"),
    ),
    "timers": (
        ("ck_timers_kind", "kind IN ('warning', 'breach', 'escalation', 'auto', 'notice', 'hook')"),
        ("ck_timers_status", "status IN ('pending', 'fired', 'cancelled', 'failed')"),
    ),
    "outbox_messages": (
        ("ck_outbox_messages_status", "status IN ('pending', 'sent', 'failed')"),
    ),
    "inbox_events": (
        ("ck_inbox_events_status", "status IN ('received', 'processed', 'unmatched', 'failed', 'rejected', 'parked', 'expired')"),
    ),
    "web_sessions": (
        ("ck_web_sessions_method", "method IN ('password', 'oidc')"),
    ),
    "leads": (
        ("ck_leads_status", "status IN ('new', 'taken', 'qualified', 'reservation_paid', 'non_target')"),
    ),
    "lead_events": (
        ("ck_lead_events_from_status", "from_status IN ('new', 'taken', 'qualified', 'reservation_paid', 'non_target')"),
        ("ck_lead_events_to_status", "to_status IN ('new', 'taken', 'qualified', 'reservation_paid', 'non_target')"),
    ),
    "breach_reviews": (
        ("ck_breach_reviews_cause", "cause IN ('workload', 'waiting_customer', 'waiting_department', 'supplier', 'system_outage', 'wrong_data', 'absence', 'force_majeure', 'other')"),
        ("ck_breach_reviews_exemption", "exemption IN ('requested', 'approved', 'rejected')"),
    ),
    "breach_review_events": (
        ("ck_breach_review_events_action", "action IN ('cause_recorded', 'exemption_requested', 'exemption_approved', 'exemption_rejected')"),
        ("ck_breach_review_events_cause", "cause IN ('workload', 'waiting_customer', 'waiting_department', 'supplier', 'system_outage', 'wrong_data', 'absence', 'force_majeure', 'other')"),
    ),
}


def upgrade() -> None:
    for table_name, checks in CHECKS.items():
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            for name, condition in checks:
                batch_op.create_check_constraint(op.f(name), condition)


def downgrade() -> None:
    for table_name, checks in reversed(CHECKS.items()):
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            for name, _condition in reversed(checks):
                batch_op.drop_constraint(op.f(name), type_="check")
