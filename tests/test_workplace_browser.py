"""The workplace's whole path in a real headless Chromium (Debian's, driven by Playwright): the
storekeeper signs in, finds a return at the top of their queue and approves it with the required
note; the dispatcher then has it in their queue; the accountant cannot open the warehouse's case;
the head of logistics acknowledges an escalation from the case page. Screenshots of the queue and
of the case page with its action form go to $SLAFLOW_SCREENSHOT_DIR (docs/ when refreshing them)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from api.app import create_app
from api.testing import runtime
from core.clock import SimulatedClock
from crm import samples
from engine import cases
from storage.db import migrate
from storage.models import Case, CaseEvent
from tests.conftest import MONDAY_0900_MSK
from tests.oidc_server import free_port
from tests.test_dashboard_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.workplace_support import WORKERS, company_with_people


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, dict[str, int]]]:
    """(base URL, runtime, case ids): uvicorn over a SQLite file with two returns waiting for the
    warehouse and one whose collection by logistics is long overdue."""
    folder = tmp_path_factory.mktemp("workplace-browser")
    url = f"sqlite:///{folder / 'slaflow.db'}"
    migrate(url)
    config = company_with_people(url, folder)
    served = runtime(url, config)
    company = served.company
    clock = SimulatedClock(MONDAY_0900_MSK)
    ids: dict[str, int] = {}
    with served.sessions.begin() as session:
        def open_return(order: str, at: Any) -> int:
            return cases.open_case(session, company, case_type="return", actor=company.actor("ivanov"), now=at,
                                   data={"customer": "ООО Ромашка", "order": order, "reason": "брак"}).id

        ids["late"] = open_return("SO-0900", clock.now() - timedelta(days=7))
        cases.fire(session, company, case_id=ids["late"], trigger="approve", actor=company.actor("volkova"),
                   payload={"inspection_notes": "dented"}, now=clock.now() - timedelta(days=7) + timedelta(hours=2))
        ids["first"] = open_return("SO-1001", clock.now())
        ids["second"] = open_return("SO-1002", clock.now() + timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    app = create_app(served, clock, environ=samples.SAMPLE_ENV)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start within 10 s"
        yield f"http://127.0.0.1:{port}", served, ids
    finally:
        server.should_exit = True
        thread.join(10)
        served.engine.dispose()


def signed_in(browser: Any, base: str, person: str, target: str) -> Any:  # noqa: F811
    """A fresh browser context signed in as ``person`` through the login form, landing on ``target``."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{base}{target}")
    page.fill("input[name=username]", person)
    page.fill("input[name=password]", WORKERS[person])
    page.click("form button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(base + target.split("?")[0])))
    return page


def queue_ids(page: Any) -> list[int]:
    return [int(n) for n in page.locator("#queue tr[data-case]").evaluate_all("rows => rows.map(r => r.dataset.case)")]


@pytest.mark.browser
def test_the_storekeeper_approves_the_dispatcher_sees_it_the_accountant_cannot_the_head_acknowledges(
    browser: Any, site: tuple[str, Any, dict[str, int]], tmp_path: Path  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    base, served, ids = site
    shots = Path(os.environ.get("SLAFLOW_SCREENSHOT_DIR", str(tmp_path)))
    errors: list[str] = []

    page = signed_in(browser, base, "popov", "/dashboard/queue?lang=en")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert queue_ids(page) == [ids["first"], ids["second"]]  # nearest business deadline on top
    page.screenshot(path=str(shots / "workplace-queue.png"), full_page=True)
    page.locator(f"#queue tr[data-case='{ids['first']}'] a.case-link").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/cases/{ids['first']}\b"))
    approve = page.locator("details[data-trigger=approve]")
    approve.locator("summary").click()
    approve.locator("textarea[name=inspection_notes]").fill("Housing scratched; photo on file")
    page.screenshot(path=str(shots / "workplace-case.png"), full_page=True)
    approve.locator("button[type=submit]").click()
    expect(page.locator("#actions .flash.done")).to_contain_text("Done")
    expect(page.locator(".facts")).to_contain_text("Goods collection")
    page.context.close()
    with served.sessions() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == ids["first"])
                                .order_by(CaseEvent.seq.desc())).first()
        assert event is not None and (event.trigger, event.actor) == ("approve", "popov")
        assert event.payload == {"inspection_notes": "Housing scratched; photo on file"}

    page = signed_in(browser, base, "kozlov", "/dashboard/queue?lang=en")
    assert ids["first"] in queue_ids(page) and ids["second"] not in queue_ids(page)
    page.context.close()

    page = signed_in(browser, base, "morozova", "/dashboard/queue?lang=en")
    assert queue_ids(page) == []
    answer = page.goto(f"{base}/dashboard/cases/{ids['second']}?lang=en")
    assert answer is not None and answer.status == 404
    page.context.close()

    page = signed_in(browser, base, "lebedev", f"/dashboard/cases/{ids['late']}?lang=en")
    expect(page.locator(".facts")).to_contain_text("Goods collection")
    page.locator("button[name=acknowledge]").click()
    expect(page.locator("#actions .flash.done")).to_contain_text("Escalation acknowledged")
    page.context.close()
    with served.sessions() as session:
        late = session.get(Case, ids["late"])
        assert late is not None
        last = session.scalars(select(CaseEvent).where(CaseEvent.case_id == late.id)
                               .order_by(CaseEvent.seq.desc())).first()
        assert last is not None and (last.trigger, last.actor) == ("acknowledge", "lebedev")
    assert errors == []
