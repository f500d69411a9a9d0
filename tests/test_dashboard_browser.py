"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against uvicorn on
127.0.0.1 serving the demo week: sign in, read the board, open a case, switch the language.

Needs ``apt-get install -y chromium`` and the ``playwright`` package; it fails (never skips) when
either is missing, because CI installs both. ``playwright install`` is not used: it downloads a
browser, and the machines are offline. Screenshots go to the test's tmp dir; with
``SLAFLOW_DOCS_SCREENSHOT=1`` the English board is also written to ``docs/dashboard.png``."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from api.testing import PASSWORDS, runtime
from core.clock import SimulatedClock
from crm import samples
from tests.test_dashboard import BREACHED_CASE, DEMO_END, build_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core"
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "dashboard.png"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn with the real app over the demo week, its clock fixed at the week's end."""
    url, config = build_demo(tmp_path_factory.mktemp("dashboard-browser"))
    served = runtime(url, config)
    app = create_app(served, SimulatedClock(DEMO_END), environ=samples.SAMPLE_ENV)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start within 10 s"
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)
        served.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's chromium; install it with: {INSTALL}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the browser tests need Playwright for Python: .venv/bin/pip install 'playwright>=1.45,<2' "
            "(and NOT `playwright install`: Debian's chromium is used)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_it_shows_the_demo_week_and_a_case_timeline_in_a_real_browser(
    browser: Any, base_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        # Not signed in: the login form; a wrong password is refused, the right one opens the board.
        page.goto(f"{base_url}/dashboard")
        expect(page).to_have_url(f"{base_url}/dashboard/login?next=%2Fdashboard")
        page.fill("input[name=username]", "kuznetsova")
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_have_text("Неверный логин или пароль.")
        page.fill("input[name=username]", "kuznetsova")
        page.fill("input[name=password]", PASSWORDS["kuznetsova"])
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base_url}/dashboard")

        # The board in the company's locale: departments, the breached case highlighted, the chart.
        expect(page.locator("h1")).to_contain_text("Сроки заявок")
        expect(page.locator("header .viewer")).to_have_text("Мария Кузнецова")
        logistics = page.locator('article[data-department="logistics"]')
        expect(logistics.locator("h3")).to_contain_text("Логистика")
        breached = page.locator(f'tr[data-case="{BREACHED_CASE}"]')
        expect(breached).to_have_class("row-breached")
        expect(breached.locator(".badge")).to_have_text("просрочено")
        assert breached.evaluate("row => getComputedStyle(row.cells[0]).backgroundColor") == "rgb(253, 231, 229)"
        chart = page.locator("#compliance-chart svg")
        expect(chart).to_be_visible()
        assert chart.bounding_box()["width"] > 300
        expect(chart).to_contain_text("Склад")
        page.screenshot(path=str(tmp_path / "dashboard-ru.png"), full_page=True)

        # Switch the language with the header link; the board keeps working in English.
        page.click("header .langs a[hreflang=en]")
        expect(page.locator("h1")).to_contain_text("SLA dashboard")
        expect(page.locator(f'tr[data-case="{BREACHED_CASE}"] .badge')).to_have_text("breached")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        if os.environ.get("SLAFLOW_DOCS_SCREENSHOT") == "1":
            shutil.copy(tmp_path / "dashboard.png", DOCS_SCREENSHOT)

        # The case link opens its page: states with owners, a breach, messages sent, the ledger.
        page.click(f'tr[data-case="{BREACHED_CASE}"] a.case-link')
        expect(page).to_have_url(f"{base_url}/dashboard/cases/{BREACHED_CASE}?lang=en")
        expect(page.locator("h1")).to_contain_text(f"Case #{BREACHED_CASE}")
        timeline = page.locator("#timeline")
        expect(timeline.locator(".entry-state")).to_have_count(3)
        expect(timeline.locator(".entry-state").first).to_contain_text("Case opened")
        expect(timeline.locator(".entry-breach")).to_contain_text(
            ["Step deadline missed: Shipping the correction (Logistics)", "Whole-case deadline missed"]
        )
        expect(timeline.locator(".entry-messages").filter(has_text="Escalation · level 1")).to_contain_text("slack")
        expect(page.locator("#ledger")).to_contain_text("Warehouse")
        page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
    finally:
        context.close()
    assert all(url.startswith(base_url) for url in requests), "the pages must fetch nothing from elsewhere"
    assert errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"], (
        "only the wrong password's answer may be an error"
    )
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
