"""cases, events, clocks, timers, breaches

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 05:22:59.095580
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('case_type_versions',
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('fingerprint')
    )
    with op.batch_alter_table('case_type_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_type_versions_name'), ['name'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_type', sa.String(length=64), nullable=False),
    sa.Column('definition_fingerprint', sa.String(length=32), nullable=False),
    sa.Column('external_source', sa.String(length=64), nullable=True),
    sa.Column('external_key', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('requester', sa.String(length=64), nullable=False),
    sa.Column('performer', sa.String(length=64), nullable=False),
    sa.Column('owner_department', sa.String(length=64), nullable=True),
    sa.Column('owner_role', sa.String(length=64), nullable=True),
    sa.Column('owner_person', sa.String(length=64), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['definition_fingerprint'], ['case_type_versions.fingerprint'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_source', 'external_key', name='uq_cases_external')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_case_type'), ['case_type'], unique=False)
        batch_op.create_index('ix_cases_open_due', ['closed_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_owner_department'), ['owner_department'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_performer'), ['performer'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_requester'), ['requester'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=False),
    sa.Column('from_state', sa.String(length=64), nullable=True),
    sa.Column('to_state', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seq', name='uq_case_events_seq')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_participants',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'department')
    )
    with op.batch_alter_table('case_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_participants_department'), ['department'], unique=False)

    op.create_table('sla_clocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.Column('person', sa.String(length=64), nullable=True),
    sa.Column('calendar', sa.String(length=64), nullable=False),
    sa.Column('target_minutes', sa.Float(), nullable=True),
    sa.Column('warn_fraction', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('running_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_minutes', sa.Float(), nullable=False),
    sa.Column('paused_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.create_index('ix_sla_clocks_case_kind', ['case_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_sla_clocks_department'), ['department'], unique=False)
        batch_op.create_index(batch_op.f('ix_sla_clocks_status'), ['status'], unique=False)

    op.create_table('breaches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('clock_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('person', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late_minutes', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clock_id'], ['sla_clocks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('clock_id')
    )
    with op.batch_alter_table('breaches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breaches_breached_at'), ['breached_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_breaches_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_breaches_department'), ['department'], unique=False)

    op.create_table('timers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('clock_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clock_id'], ['sla_clocks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timers_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timers_clock_id'), ['clock_id'], unique=False)
        batch_op.create_index('ix_timers_pending_due', ['status', 'due_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_index('ix_timers_pending_due')
        batch_op.drop_index(batch_op.f('ix_timers_clock_id'))
        batch_op.drop_index(batch_op.f('ix_timers_case_id'))

    op.drop_table('timers')
    with op.batch_alter_table('breaches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breaches_department'))
        batch_op.drop_index(batch_op.f('ix_breaches_case_id'))
        batch_op.drop_index(batch_op.f('ix_breaches_breached_at'))

    op.drop_table('breaches')
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_clocks_status'))
        batch_op.drop_index(batch_op.f('ix_sla_clocks_department'))
        batch_op.drop_index('ix_sla_clocks_case_kind')

    op.drop_table('sla_clocks')
    with op.batch_alter_table('case_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_participants_department'))

    op.drop_table('case_participants')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_events_at'))

    op.drop_table('case_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_requester'))
        batch_op.drop_index(batch_op.f('ix_cases_performer'))
        batch_op.drop_index(batch_op.f('ix_cases_owner_department'))
        batch_op.drop_index('ix_cases_open_due')
        batch_op.drop_index(batch_op.f('ix_cases_case_type'))

    op.drop_table('cases')
    with op.batch_alter_table('case_type_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_type_versions_name'))

    op.drop_table('case_type_versions')

