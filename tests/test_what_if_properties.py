"""`sla what-if` and `sla rebuild` are one replay (issue 12, observation 4): for random histories
with duties, customer and dependency pauses, escalations and reassignments, replaying under the
unchanged configuration changes no figure, and the replayed figures are the stored ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rebuild import rebuild, what_if
from reports.steps import department_figures
from tests.random_history import WEEK_END, WEEK_START, history_company, history_database, play

COMPANY = history_company()


def _rows(figures: list) -> list[tuple[str, int, int, int, int, float]]:  # type: ignore[type-arg]
    return [(f.department, f.steps, f.met, f.breached, f.running, round(f.late_minutes, 6)) for f in figures]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_if_with_the_unchanged_config_reports_no_difference(
    data: st.DataObject, sqlite_template: Path, tmp_path: Path
) -> None:
    unchanged = history_company()  # the same YAML loaded again, as `--with-config` does
    with history_database(sqlite_template, tmp_path) as sessions:
        history = play(sessions, COMPANY, data)
        now = history.clock.now()
        result = what_if(sessions, COMPANY, unchanged, since=WEEK_START, until=WEEK_END, now=now)
        assert result.skipped == {}
        assert _rows(result.before) == _rows(result.after)
        with sessions() as session:
            assert _rows(result.before) == _rows(department_figures(session, now=now))  # the stored figures
        assert rebuild(sessions, COMPANY).ok
