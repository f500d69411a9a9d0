"""Property-based run of every operation in ``/openapi.json`` (bounded): whatever schemathesis
sends, with or without a valid token, the app answers with no 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.testing import runtime, token_header, write_config
from crm import samples
from slaflow.clock import SimulatedClock


@pytest.fixture
def api_schema(sqlite_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[Any]:
    served = runtime(sqlite_url, write_config(tmp_path))
    app = create_app(served, clock, environ=samples.SAMPLE_ENV)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.slaflow.pipeline.stop()
    served.engine.dispose()


def test_it_never_answers_with_a_server_error(api_schema: Any) -> None:
    # Each operation gets its own bounded hypothesis run (schemathesis' lazy pytest loader does
    # not support this pytest version, so the loop is written out).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=token_header("kuznetsova"), checks=[not_a_server_error])

        no_server_error()
