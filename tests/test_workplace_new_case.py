"""Opening a case from a form: only the case types the person may open, fields generated from
``open_requires`` and checked on the server, the case opened by the engine with them as actor."""

from __future__ import annotations

import re

from sqlalchemy import select

from api.testing import TestClient
from storage.models import Case, CaseEvent
from tests.test_workplace_actions import as_person, post, web  # noqa: F401  (the app fixture)


def csrf_of(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_a_sales_manager_opens_a_return_from_the_form_after_a_clear_message(web: tuple[TestClient, int]) -> None:  # noqa: F811
    client, existing = web
    as_person(client, "ivanov")
    listing = client.get("/dashboard/new?lang=en")
    assert listing.status_code == 200 and 'href="/dashboard/new/return?lang=en"' in listing.text
    form = client.get("/dashboard/new/return?lang=en")
    assert all(f'name="{name}"' in form.text for name in ("customer", "order", "reason"))
    csrf = csrf_of(client, "/dashboard/new/return")
    short = post(client, "/dashboard/new/return?lang=en", {"csrf": csrf, "customer": "ACME", "reason": "defect"})
    assert short.status_code == 422 and "Order: required" in short.text and 'value="ACME"' in short.text
    done = post(client, "/dashboard/new/return?lang=en",
                {"csrf": csrf, "customer": "ACME", "order": "SO-77", "reason": "defect"})
    assert done.status_code == 303
    new_id = int(re.search(r"/dashboard/cases/(\d+)", done.headers["location"]).group(1))  # type: ignore[union-attr]
    assert new_id != existing
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        case = session.get(Case, new_id)
        opened = session.scalars(select(CaseEvent).where(CaseEvent.case_id == new_id)).one()
        assert case is not None and case.state == "inspection"
        assert case.data == {"customer": "ACME", "order": "SO-77", "reason": "defect"}
        assert (opened.actor, opened.source) == ("ivanov", "dashboard")


def test_a_storekeeper_may_not_open_a_return_and_a_forged_form_is_refused(web: tuple[TestClient, int]) -> None:  # noqa: F811
    client, _ = web
    as_person(client, "popov")
    assert "/dashboard/new/return" not in client.get("/dashboard/new?lang=en").text
    assert client.get("/dashboard/new/return").status_code == 404
    csrf = csrf_of(client, "/dashboard/new")
    refused = post(client, "/dashboard/new/return", {"csrf": csrf, "customer": "A", "order": "B", "reason": "C"})
    assert refused.status_code == 404
    as_person(client, "ivanov")
    forged = post(client, "/dashboard/new/return", {"csrf": "nope", "customer": "A", "order": "B", "reason": "C"})
    assert forged.status_code == 403
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(Case.id).where(Case.data["order"].as_string() == "B")) is None
