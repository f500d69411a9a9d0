"""Acting on a case from its page as the signed-in person: only the triggers they may fire are
offered, each form typed from the case type and checked on the server, CSRF and Origin checked,
a concurrent change reported with what changed, take/assign, acknowledge and snooze; a case
outside the scope is a 404 for acting as for reading."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.testing import TestClient, serving, sign_in
from api.workplace.forms import form_fields, validate
from core.clock import SimulatedClock
from crm import samples
from state_machines.parts import FieldDef, FieldKind
from state_machines.returns import DEFINITION as RETURN
from storage.models import Case, CaseEvent
from tests.workplace_support import WORKERS, company_with_people, open_return


@pytest.fixture
def web(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[TestClient, int]]:
    config = company_with_people(db_url, tmp_path)
    case_id = open_return(db_url, config, clock.now())
    with serving(db_url, config, clock, samples.SAMPLE_ENV) as client:
        yield client, case_id


def as_person(client: TestClient, person: str) -> None:
    client.cookies.clear()
    assert sign_in(client, person, password=WORKERS[person]).status_code == 303


def form_of(client: TestClient, case_id: int) -> dict[str, str]:
    page = client.get(f"/dashboard/cases/{case_id}?lang=en")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert csrf and version
    return {"csrf": csrf.group(1), "version": version.group(1)}


def post(client: TestClient, path: str, data: dict[str, str]) -> Any:
    return client.post(path, data=data, follow_redirects=False, headers={"Origin": str(client.base_url)})


def stored(client: TestClient, case_id: int) -> tuple[Case, list[CaseEvent]]:
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        case = session.get(Case, case_id)
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
        session.expunge_all()
        return case, events


def triggers_offered(client: TestClient, case_id: int) -> set[str]:
    return set(re.findall(r'data-trigger="([a-z_]+)"', client.get(f"/dashboard/cases/{case_id}?lang=en").text))


def test_the_storekeeper_approves_with_the_required_note_after_a_clear_message_without_it(
    web: tuple[TestClient, int]
) -> None:
    client, case_id = web
    as_person(client, "popov")
    assert triggers_offered(client, case_id) == {"approve", "reject", "request_info"}  # not sales' withdraw
    form = form_of(client, case_id)
    empty = post(client, f"/dashboard/cases/{case_id}/fire/approve?lang=en", {**form, "inspection_notes": "  "})
    assert empty.status_code == 422 and "Inspection notes: required" in empty.text
    assert stored(client, case_id)[0].state == "inspection"
    done = post(client, f"/dashboard/cases/{case_id}/fire/approve?lang=en",
                {**form, "inspection_notes": "Scratched housing, photo on file"})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/dashboard/cases/{case_id}?done=approve")
    case, events = stored(client, case_id)
    assert case.state == "collection"
    assert (events[-1].actor, events[-1].source, events[-1].payload) == (
        "popov", "dashboard", {"inspection_notes": "Scratched housing, photo on file"})
    assert "Done:" in client.get(done.headers["location"]).text
    assert triggers_offered(client, case_id) == set()  # logistics' turn now


def test_a_missing_csrf_or_a_foreign_origin_is_refused_and_changes_nothing(web: tuple[TestClient, int]) -> None:
    client, case_id = web
    as_person(client, "popov")
    form = form_of(client, case_id)
    forged = post(client, f"/dashboard/cases/{case_id}/fire/approve",
                  {**form, "csrf": "x" * 20, "inspection_notes": "n"})
    assert forged.status_code == 403
    foreign = client.post(f"/dashboard/cases/{case_id}/take", data=form, follow_redirects=False,
                          headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    case, events = stored(client, case_id)
    assert case.state == "inspection" and case.owner_person is None and len(events) == 1


def test_a_concurrent_change_is_reported_with_what_changed(web: tuple[TestClient, int]) -> None:
    client, case_id = web
    as_person(client, "popov")
    seen = form_of(client, case_id)
    as_person(client, "volkova")
    assert post(client, f"/dashboard/cases/{case_id}/take", form_of(client, case_id)).status_code == 303
    as_person(client, "popov")
    late = post(client, f"/dashboard/cases/{case_id}/fire/approve?lang=en",
                {**seen, "csrf": form_of(client, case_id)["csrf"], "inspection_notes": "ok"})
    assert late.status_code == 409
    assert "Someone else moved this case" in late.text and "Natalia Volkova" in late.text
    case, _ = stored(client, case_id)
    assert case.state == "inspection" and case.owner_person == "volkova"


def test_the_accountant_can_neither_read_nor_act_on_a_warehouse_case(web: tuple[TestClient, int]) -> None:
    client, case_id = web
    as_person(client, "popov")
    form = form_of(client, case_id)
    as_person(client, "morozova")
    assert client.get(f"/dashboard/cases/{case_id}").status_code == 404
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/queue").text)
    assert csrf
    answer = post(client, f"/dashboard/cases/{case_id}/fire/approve",
                  {**form, "csrf": csrf.group(1), "inspection_notes": "x"})
    assert answer.status_code == 404
    assert stored(client, case_id)[0].state == "inspection"


def test_the_head_assigns_and_acknowledges_then_snoozes_a_breached_step(
    web: tuple[TestClient, int], clock: SimulatedClock
) -> None:
    client, case_id = web
    as_person(client, "smirnov")
    form = form_of(client, case_id)
    assert "/acknowledge" not in client.get(f"/dashboard/cases/{case_id}").text  # nothing escalating yet
    assert post(client, f"/dashboard/cases/{case_id}/assign", {**form, "person": "volkova"}).status_code == 303
    clock.advance(timedelta(days=3))  # well past the 8 business hours of inspection
    as_person(client, "smirnov")  # the 12-hour session has ended meanwhile
    form = form_of(client, case_id)
    assert post(client, f"/dashboard/cases/{case_id}/acknowledge", form).status_code == 303
    wrong = post(client, f"/dashboard/cases/{case_id}/snooze?lang=en", {**form_of(client, case_id), "minutes": "soon"})
    assert wrong.status_code == 422 and "must be a number" in wrong.text
    snoozed = post(client, f"/dashboard/cases/{case_id}/snooze", {**form_of(client, case_id), "minutes": "90"})
    assert snoozed.status_code == 303
    case, events = stored(client, case_id)
    assert [(e.trigger, e.actor) for e in events[1:]] == [("assign", "smirnov"), ("acknowledge", "smirnov"),
                                                          ("snooze", "smirnov")]
    assert events[-1].payload == {"minutes": 90.0} and case.owner_person == "volkova"


def test_typed_fields_are_checked_with_one_message_each() -> None:
    definition = RETURN.model_copy(update={"fields": {
        "amount": FieldDef(kind=FieldKind.NUMBER), "due": FieldDef(kind=FieldKind.DATE),
        "grade": FieldDef(kind=FieldKind.CHOICE, choices=["A", "B"]), "document": FieldDef(kind=FieldKind.LINK)}})
    fields = form_fields(definition, ["amount", "due", "grade", "document", "note"], "en")
    payload, problems = validate(fields, {"amount": "12,5", "due": "2026-12-01", "grade": "B",
                                          "document": "https://docs.example/1", "note": "fine"})
    assert not problems and payload == {"amount": 12.5, "due": "2026-12-01", "grade": "B",
                                        "document": "https://docs.example/1", "note": "fine"}
    payload, problems = validate(fields, {"amount": "lots", "due": "01.12.2026", "grade": "C",
                                          "document": "javascript:alert(1)"})
    assert [p.key for p in problems] == ["field_number", "field_date", "field_choice", "field_link", "field_required"]
    assert payload == {} and problems[-1].field == "Note"


def test_a_comment_is_an_event_and_an_at_mention_queues_a_message_for_that_person(web: tuple[TestClient, int]) -> None:
    from engine import cases, replay
    from storage.models import OutboxMessage

    client, case_id = web
    as_person(client, "popov")
    empty = post(client, f"/dashboard/cases/{case_id}/comment?lang=en", {**form_of(client, case_id), "text": " "})
    assert empty.status_code == 422 and "Comment: required" in empty.text
    said = post(client, f"/dashboard/cases/{case_id}/comment",
                {**form_of(client, case_id), "text": "@kozlov collect it tomorrow, @nobody and @popov need not"})
    assert said.status_code == 303
    case, events = stored(client, case_id)
    assert (events[-1].trigger, events[-1].actor, events[-1].payload["mentions"]) == ("comment", "popov", ["kozlov"])
    assert case.state == "inspection" and case.version == 2
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        sent = list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "mention")))
        assert {m.recipient for m in sent} == {"kozlov"}
        assert all(m.case_id == case_id and "collect it tomorrow" in m.context["comment"] for m in sent)
        # The event log still replays to the stored case.
        stored_case = session.get(Case, case_id)
        definition = cases.definition_of(session, client.app.state.slaflow.company, stored_case)  # type: ignore[attr-defined]
        assert replay.replay(definition, stored_case.events) == replay.CaseSnapshot.of(stored_case)
    page = client.get(f"/dashboard/cases/{case_id}?lang=en")
    assert "collect it tomorrow" in page.text and "Mention" in page.text


def test_the_russian_case_page_names_each_action_and_its_fields_by_their_labels(web: tuple[TestClient, int]) -> None:
    """Issue #11 point 7: the buttons and form fields read «Одобрить», «Заметки осмотра», not ids;
    after the move the timeline names it by the same label."""
    client, case_id = web
    as_person(client, "popov")
    page = client.get(f"/dashboard/cases/{case_id}?lang=ru").text
    summaries = dict(re.findall(r'data-trigger="([a-z_]+)".*?<summary class="button">([^<]+)</summary>', page, re.S))
    assert set(summaries) == {"approve", "reject", "request_info"}
    for trigger, summary in summaries.items():
        assert summary.startswith(RETURN.trigger_label(trigger, "ru") + " → "), summary
    assert summaries["approve"].startswith("Одобрить → ")
    assert "Заметки осмотра" in page and "Inspection notes" not in page
    form = form_of(client, case_id)
    done = post(client, f"/dashboard/cases/{case_id}/fire/approve?lang=ru", {**form, "inspection_notes": "Царапины"})
    assert done.status_code == 303
    after = client.get(f"/dashboard/cases/{case_id}?lang=ru").text
    assert "Одобрить" in after and not re.search(r">\s*approve\b", after)
