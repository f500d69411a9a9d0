"""Signing in to the dashboard in a real headless Chromium (Debian's, driven by Playwright):
with a password, and with OpenID Connect against a real provider started by the test (panva's
oidc-provider on Node.js, tests/oidc_provider); the session cookie's flags as the browser keeps
them; signing out; an e-mail that is nobody's in the org chart is refused."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from api.app import create_app
from api.sessions import COOKIE
from api.testing import PASSWORDS, dump_yaml, example_config, runtime, set_passwords
from core.clock import SimulatedClock, SystemClock
from crm import samples
from engine import cases
from storage.db import migrate
from storage.models import WebSession
from tests.oidc_server import CLIENT_ID, CLIENT_SECRET, free_port, oidc_provider
from tests.test_dashboard_browser import browser  # noqa: F401  (the Chromium fixture)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Any]]:
    """(dashboard URL, issuer, the app's runtime): uvicorn serving a company whose auth section
    names the locally started OIDC provider."""
    folder = tmp_path_factory.mktemp("signin-browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with oidc_provider(f"{base}/dashboard/oidc/callback") as issuer:
        raw = example_config()
        raw["auth"] = {"oidc": {"issuer": issuer, "client_id": CLIENT_ID,
                                "client_secret": {"env": "SLAFLOW_OIDC_SECRET"},
                                "label": {"ru": "Войти через SSO", "en": "Sign in with SSO"}}}
        config = folder / "company.yaml"
        config.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
        url = f"sqlite:///{folder / 'slaflow.db'}"
        migrate(url)
        set_passwords(url, config)
        served = runtime(url, config)
        # The provider signs its ID tokens at the real time, so the app's clock starts there too.
        clock = SimulatedClock(SystemClock().now())
        with served.sessions.begin() as session:
            cases.open_case(session, served.company, case_type="return", actor=served.company.actor("ivanov"),
                            data={"customer": "ООО Ромашка", "order": "A-1", "reason": "брак"}, now=clock.now())
        app = create_app(served, clock, environ={**samples.SAMPLE_ENV, "SLAFLOW_OIDC_SECRET": CLIENT_SECRET})
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.started, "uvicorn did not start within 10 s"
            yield base, issuer, served
        finally:
            server.should_exit = True
            thread.join(10)
            served.engine.dispose()


def session_methods(served: Any, person: str) -> list[tuple[str, bool]]:
    with served.sessions() as session:
        rows = session.scalars(select(WebSession).where(WebSession.person == person).order_by(WebSession.created_at))
        return [(row.method, row.revoked_at is not None) for row in rows]


@pytest.mark.browser
def test_a_person_signs_in_with_a_password_and_out_again(browser: Any, site: tuple[str, str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    base, _, served = site
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/dashboard?lang=en")
        expect(page).to_have_url(f"{base}/dashboard/login?next=%2Fdashboard%3Flang%3Den&lang=en")
        page.fill("input[name=username]", "kuznetsova")
        page.fill("input[name=password]", PASSWORDS["kuznetsova"])
        page.click("form button[type=submit]")
        expect(page).to_have_url(f"{base}/dashboard?lang=en")
        expect(page.locator("header .viewer")).to_have_text("Maria Kuznetsova")
        [cookie] = [c for c in context.cookies() if c["name"] == COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard"
        assert cookie["expires"] > time.time() + 11 * 3600  # a lifetime, not a browser-session cookie
        assert PASSWORDS["kuznetsova"] not in cookie["value"]

        page.click("header form button[type=submit]")  # sign out
        expect(page).to_have_url(f"{base}/dashboard/login?lang=en")
        assert not [c for c in context.cookies() if c["name"] == COOKIE]
        page.goto(f"{base}/dashboard")
        expect(page).to_have_url(f"{base}/dashboard/login?next=%2Fdashboard")
        assert session_methods(served, "kuznetsova") == [("password", True)]
    finally:
        context.close()


@pytest.mark.browser
def test_a_person_signs_in_with_openid_connect(browser: Any, site: tuple[str, str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    base, issuer, served = site
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/dashboard/login?lang=en")
        page.click("text=Sign in with SSO")
        expect(page).to_have_url(re.compile("^" + re.escape(issuer) + "/"))
        # The provider's own sign-in and consent pages (its development interactions).
        page.fill("input[name=login]", "orlov@sever.example")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.click("button[type=submit]")  # consent: "Continue"
        expect(page).to_have_url(f"{base}/dashboard")
        expect(page.locator("header .viewer")).to_have_text("Андрей Орлов")
        expect(page.locator("tr[data-case]")).to_have_count(1)  # the director sees the case
        assert session_methods(served, "orlov") == [("oidc", False)]
    finally:
        context.close()


@pytest.mark.browser
def test_an_email_of_nobody_in_the_org_chart_is_refused(browser: Any, site: tuple[str, str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    base, issuer, _ = site
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/dashboard/login?lang=en")
        page.click("text=Sign in with SSO")
        page.fill("input[name=login]", "stranger@elsewhere.example")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("stranger@elsewhere.example")
        assert not [c for c in context.cookies() if c["name"] == COOKIE]
    finally:
        context.close()
