"""My queue: what a signed-in person must act on now, within their read scope, nearest business
deadline first; filters, search, the rows fragment htmx polls, and htmx served by the app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.testing import TestClient, serving, sign_in
from core.clock import SimulatedClock
from crm import samples
from tests.workplace_support import WORKERS, company_with_people, open_return


@pytest.fixture
def setup(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[TestClient, str, Path]]:
    config = company_with_people(db_url, tmp_path)
    with serving(db_url, config, clock, samples.SAMPLE_ENV) as client:
        yield client, db_url, config


def as_person(client: TestClient, person: str) -> TestClient:
    answer = sign_in(client, person, password=WORKERS[person])
    assert answer.status_code == 303, answer.text
    return client


def queued(client: TestClient, query: str = "") -> list[int]:
    page = client.get(f"/dashboard/queue?lang=en{query}")
    assert page.status_code == 200, page.text
    import re
    return [int(n) for n in re.findall(r'data-case="(\d+)"', page.text)]


def test_the_storekeeper_sees_the_warehouse_returns_nearest_deadline_first_and_the_accountant_none(
    setup: tuple[TestClient, str, Path], clock: SimulatedClock
) -> None:
    client, db_url, config = setup
    early = open_return(db_url, config, clock.now(), order="SO-7")
    clock.advance(timedelta(hours=3))
    later = open_return(db_url, config, clock.now(), customer="ACME", order="SO-8")
    assert queued(as_person(client, "popov")) == [early, later]
    client.cookies.clear()
    assert queued(as_person(client, "morozova")) == []


def test_filters_and_search_narrow_the_queue_and_an_unknown_type_is_a_clear_400(
    setup: tuple[TestClient, str, Path], clock: SimulatedClock
) -> None:
    client, db_url, config = setup
    first = open_return(db_url, config, clock.now(), order="SO-7")
    clock.advance(timedelta(hours=6))
    second = open_return(db_url, config, clock.now(), customer="ACME Trading", order="SO-8")
    as_person(client, "popov")
    assert queued(client, "&q=acme") == [second]
    assert queued(client, "&q=SO-7") == [first]
    assert queued(client, "&type=return&state=inspection") == [first, second]
    assert queued(client, "&state=refund") == []
    # 8 business hours of inspection: the older case has at most 2 left, the newer all 8.
    assert queued(client, "&within=5") == [first]
    wrong = client.get("/dashboard/queue?type=nonsense")
    assert wrong.status_code == 400 and "unknown case type 'nonsense'" in wrong.text


def test_the_rows_fragment_polls_and_htmx_is_served_by_the_app(setup: tuple[TestClient, str, Path],
                                                               clock: SimulatedClock) -> None:
    client, db_url, config = setup
    assert client.get("/dashboard/queue", follow_redirects=False).status_code == 303
    assert client.get("/dashboard/queue/rows").status_code == 401
    as_person(client, "popov")
    page = client.get("/dashboard/queue?lang=en")
    assert 'src="/dashboard/static/htmx.min.js"' in page.text and 'hx-trigger="every 30s"' in page.text
    case_id = open_return(db_url, config, clock.now())
    rows = client.get("/dashboard/queue/rows?lang=en")
    assert f'data-case="{case_id}"' in rows.text and "<html" not in rows.text
    script = client.get("/dashboard/static/htmx.min.js")
    assert script.status_code == 200 and script.text.startswith("var htmx=")


def test_from_an_invitation_to_a_signed_in_queue(setup: tuple[TestClient, str, Path], clock: SimulatedClock) -> None:
    """The README's path: `slaflow user invite volkova` -> the link -> a password -> my queue."""
    from api.testing import login_csrf
    from org.accounts import invite

    client, db_url, config = setup
    case_id = open_return(db_url, config, clock.now())
    state = client.app.state.slaflow  # type: ignore[attr-defined]
    with state.sessions.begin() as session:
        token = invite(session, state.company, "volkova", now=clock.now(), hours=72)
    path = f"/dashboard/invite/{token}?lang=en"
    done = client.post(path, data={"password": "volkova-new-password", "repeat": "volkova-new-password",
                                   "csrf": login_csrf(client, path)}, follow_redirects=False)
    assert done.status_code == 303
    assert queued(client) == [case_id]


def test_the_within_filter_finds_matching_steps_however_long_the_queue_and_however_it_sorts(
    setup: tuple[TestClient, str, Path], clock: SimulatedClock
) -> None:
    """More than QUEUE_LIMIT open returns, and the three with 2 business hours left come after the
    200th in the SQL order: their case's due date says nothing (NULL sorts last; the business time
    left is the step clock's). The filter must still find all three."""
    from sqlalchemy import update

    from api.testing import runtime
    from api.workplace.queue_data import QUEUE_LIMIT
    from engine import cases
    from storage.models import Case

    client, db_url, config = setup
    served = runtime(db_url, config)
    try:
        with served.sessions.begin() as session:
            ivanov = served.company.actor("ivanov")

            def open_one() -> int:
                return cases.open_case(session, served.company, case_type="return", actor=ivanov, now=clock.now(),
                                       data={"customer": "ООО Ромашка", "order": "SO-1", "reason": "defect"}).id

            urgent = [open_one() for _ in range(3)]
            clock.advance(timedelta(hours=6))
            others = [open_one() for _ in range(QUEUE_LIMIT + 5)]
            session.execute(update(Case).where(Case.id.in_(urgent)).values(due_at=None))
    finally:
        served.engine.dispose()
    as_person(client, "popov")
    assert queued(client, "&within=5") == urgent
    everything = queued(client)
    assert len(everything) == QUEUE_LIMIT and set(everything) <= set(others)
