"""The Alembic migrations build exactly the schema the models declare, on both databases.

Several changes add tables and columns at once; a migration that forgets a column or an index
would only show on a deployed database, so the comparison runs here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from storage.models import Base


def test_it_migrates_to_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_it_has_a_single_migration_head() -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_the_breached_clocks_index_names_the_breached_status_of_the_clock_vocabulary() -> None:
    """Storage sits below ``sla`` and spells the partial index's status in SQL: it must stay the
    word the engine writes, or the index would hold no clock and the reports would scan again."""
    from sla.model import ClockStatus
    from storage.models.cases import BREACHED_WHERE

    assert f"status = '{ClockStatus.BREACHED.value}'" == BREACHED_WHERE
