"""Signing in to the dashboard with a password: the session cookie's flags, what the server
keeps, CSRF and Origin checks on every form, logout revoking the session, invitation links, and
429 after too many failures (per account, per address, and for bearer tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.sessions import COOKIE
from api.testing import PASSWORDS, TestClient, dump_yaml, login_csrf, serving, set_passwords, sign_in, write_config
from core.clock import SimulatedClock
from crm import samples
from org.accounts import invite
from org.secrets import sha256_hex
from storage.models import WebSession

LIMITS = {"SLAFLOW_LOGIN_FAILURES_PER_ACCOUNT": "3", "SLAFLOW_LOGIN_FAILURES_PER_ADDRESS": "5",
          "SLAFLOW_TOKEN_FAILURES_PER_ADDRESS": "4", "SLAFLOW_FAILURE_WINDOW_MINUTES": "10"}


@pytest.fixture
def web(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL (sessions, failures and keys are rows on both)."""
    config = write_config(tmp_path)
    set_passwords(db_url, config)
    with serving(db_url, config, clock, {**samples.SAMPLE_ENV, **LIMITS}) as client:
        yield client


def sessions_of(web: TestClient, person: str) -> list[WebSession]:
    with web.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(WebSession).where(WebSession.person == person)))


def test_it_signs_in_with_a_password_into_an_opaque_httponly_lax_cookie_with_a_lifetime(web: TestClient) -> None:
    answer = sign_in(web, "morozova", next="/dashboard/cases/1?lang=en")
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/cases/1?lang=en")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie
    value = web.cookies[COOKIE]
    [row] = sessions_of(web, "morozova")
    # The cookie is a signed random id; the database keeps only its hash, never a token or password.
    raw = value.rsplit(".", 1)[0]
    assert row.id_sha256 == sha256_hex(raw) and raw not in row.id_sha256
    assert PASSWORDS["morozova"] not in value and row.method == "password"
    assert row.expires_at - row.created_at == timedelta(hours=12)
    board = web.get("/dashboard?lang=en")
    assert board.status_code == 200 and "Elena Morozova" in board.text


def test_it_accepts_the_email_as_user_name_and_marks_the_cookie_secure_over_https(web: TestClient) -> None:
    web.base_url = web.base_url.copy_with(scheme="https")
    answer = sign_in(web, "ivanov", password=PASSWORDS["ivanov"])
    assert answer.status_code == 303
    assert any(c.startswith(f"{COOKIE}=") and "Secure" in c for c in answer.headers.get_list("set-cookie"))
    web.cookies.clear()
    by_mail = web.post("/dashboard/login", data={"username": "Ivanov@Sever.Example", "password": PASSWORDS["ivanov"],
                                                 "csrf": login_csrf(web)}, follow_redirects=False)
    assert by_mail.status_code == 303


def test_signing_in_again_replaces_the_browsers_session(web: TestClient) -> None:
    sign_in(web, "ivanov")
    first = web.cookies[COOKIE]
    assert sign_in(web, "kuznetsova").status_code == 303
    assert web.cookies[COOKIE] != first
    assert [row.revoked_at is not None for row in sessions_of(web, "ivanov")] == [True]
    web.cookies.set(COOKIE, first, path="/dashboard")
    assert web.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_forged_or_altered_cookie_is_no_session(web: TestClient) -> None:
    sign_in(web, "kuznetsova")
    value = web.cookies[COOKIE]
    web.cookies.clear()
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), "x" * 40, value.split(".")[0]):
        web.cookies.set(COOKIE, forged, path="/dashboard")
        assert web.get("/dashboard", follow_redirects=False).status_code == 303
        web.cookies.clear()


def test_it_refuses_a_wrong_password_with_401_and_no_session(web: TestClient) -> None:
    answer = sign_in(web, "kuznetsova", password="not-her-password")
    assert answer.status_code == 401 and "Неверный логин или пароль" in answer.text
    assert not any(c.startswith(f"{COOKIE}=") for c in answer.headers.get_list("set-cookie"))
    assert sessions_of(web, "kuznetsova") == []
    assert sign_in(web, "nobody", password="whatever-it-is").status_code == 401
    assert sign_in(web, "petrova", password="she-has-no-password").status_code == 401  # no account yet


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/dashboard", "/api/cases", "/dashboardx", "/\\evil.example"]
)
def test_it_never_sends_a_signed_in_browser_off_the_dashboard(web: TestClient, target: str) -> None:
    answer = sign_in(web, "ivanov", next=target)
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")


def test_it_refuses_a_login_post_without_the_forms_csrf_value_or_from_another_origin(web: TestClient) -> None:
    csrf = login_csrf(web)
    data = {"username": "ivanov", "password": PASSWORDS["ivanov"]}
    assert web.post("/dashboard/login", data=data, follow_redirects=False).status_code == 403
    assert web.post("/dashboard/login", data={**data, "csrf": csrf + "x"}, follow_redirects=False).status_code == 403
    cross = web.post("/dashboard/login", data={**data, "csrf": csrf}, headers={"Origin": "https://evil.example"},
                     follow_redirects=False)
    assert cross.status_code == 403 and "cross-origin" in cross.json()["detail"]
    by_referer = web.post("/dashboard/login", data={**data, "csrf": csrf},
                          headers={"Referer": "https://evil.example/page"}, follow_redirects=False)
    assert by_referer.status_code == 403
    assert sessions_of(web, "ivanov") == []
    assert web.post("/dashboard/login", data={**data, "csrf": csrf}, headers={"Origin": str(web.base_url)},
                    follow_redirects=False).status_code == 303


def test_logout_needs_the_sessions_csrf_token_and_revokes_the_session_for_good(web: TestClient) -> None:
    sign_in(web, "kuznetsova")
    stolen = web.cookies[COOKIE]
    board = web.get("/dashboard").text
    csrf = board.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert web.post("/dashboard/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    cross = web.post("/dashboard/logout", data={"csrf": csrf}, headers={"Origin": "http://evil.example"},
                     follow_redirects=False)
    assert cross.status_code == 403 and web.get("/dashboard", follow_redirects=False).status_code == 200
    answer = web.post("/dashboard/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    assert f'{COOKIE}=""' in answer.headers["set-cookie"]
    [row] = sessions_of(web, "kuznetsova")
    assert row.revoked_at is not None
    web.cookies.set(COOKIE, stolen, path="/dashboard")  # a copy kept from before the logout
    assert web.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_session_ends_at_its_lifetime(web: TestClient, clock: SimulatedClock) -> None:
    sign_in(web, "ivanov")
    clock.advance(timedelta(hours=11, minutes=59))
    assert web.get("/dashboard", follow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=1))
    assert web.get("/dashboard", follow_redirects=False).status_code == 303


def test_it_answers_429_with_retry_after_once_an_account_failed_too_often(web: TestClient,
                                                                         clock: SimulatedClock) -> None:
    for _ in range(3):
        assert sign_in(web, "morozova", password="guess-guess-guess").status_code == 401
    blocked = sign_in(web, "morozova")  # even the right password, while blocked
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) == 600
    assert sessions_of(web, "morozova") == []
    assert sign_in(web, "ivanov").status_code == 303  # another account from the same address still may
    web.cookies.clear()
    clock.advance(timedelta(minutes=10))
    assert sign_in(web, "morozova").status_code == 303


def test_it_answers_429_once_an_address_failed_too_often_whatever_the_account(web: TestClient) -> None:
    for person in ("ivanov", "kuznetsova", "orlov", "petrova", "nobody"):
        assert sign_in(web, person, password="guess-guess-guess").status_code == 401
    blocked = sign_in(web, "morozova")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_it_answers_429_after_too_many_unknown_bearer_tokens_from_an_address(web: TestClient) -> None:
    from api.testing import token_header

    for attempt in range(4):
        assert web.get("/api/cases", headers={"Authorization": f"Bearer guess-{attempt}"}).status_code == 401
    blocked = web.get("/api/cases", headers=token_header("ivanov"))
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) == 600
    assert web.get("/dashboard", headers={"Authorization": "Bearer guess"}).status_code == 429


def test_an_invitation_link_sets_the_password_once_and_signs_in(web: TestClient, clock: SimulatedClock) -> None:
    state = web.app.state.slaflow  # type: ignore[attr-defined]
    with state.sessions.begin() as session:
        token = invite(session, state.company, "petrova", now=clock.now(), hours=24)
    path = f"/dashboard/invite/{token}?lang=en"
    form = web.get(path)
    assert form.status_code == 200 and "Anna Petrova" in form.text
    csrf = login_csrf(web, path)
    differ = web.post(path, data={"password": "a-long-password", "repeat": "another-one!", "csrf": csrf})
    assert differ.status_code == 422 and "The passwords differ" in differ.text
    short = web.post(path, data={"password": "short", "repeat": "short", "csrf": csrf})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    assert web.post(path, data={"password": "a-long-password", "repeat": "a-long-password"}).status_code == 403
    done = web.post(path, data={"password": "a-long-password", "repeat": "a-long-password", "csrf": csrf},
                    follow_redirects=False)
    assert done.status_code == 303 and web.get("/dashboard", follow_redirects=False).status_code == 200
    web.cookies.clear()
    assert web.get(path).status_code == 404  # used up
    assert sign_in(web, "petrova", password="a-long-password").status_code == 303


def test_an_invitation_expires(web: TestClient, clock: SimulatedClock) -> None:
    state = web.app.state.slaflow  # type: ignore[attr-defined]
    with state.sessions.begin() as session:
        token = invite(session, state.company, "petrova", now=clock.now(), hours=2)
    clock.advance(timedelta(hours=2))
    answer = web.get(f"/dashboard/invite/{token}?lang=en")
    assert answer.status_code == 404 and "used or expired" in answer.text
    assert "истекла" in web.get(f"/dashboard/invite/{token}").text


def oidc_web(sqlite_url: str, tmp_path: Path, clock: SimulatedClock, *, password: bool) -> Any:
    from api.testing import example_config

    raw = example_config()
    raw["auth"] = {"password": password, "oidc": {"issuer": "http://127.0.0.1:9", "client_id": "slaflow",
                                                  "client_secret": {"env": "SLAFLOW_OIDC_SECRET"}}}
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
    return serving(sqlite_url, config, clock, {**samples.SAMPLE_ENV, "SLAFLOW_OIDC_SECRET": "s3cret-s3cret"})


def test_oidc_answers_that_do_not_belong_to_this_browser_or_an_unreachable_provider_are_clear_refusals(
    sqlite_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    with oidc_web(sqlite_url, tmp_path, clock, password=False) as web:
        form = web.get("/dashboard/login?lang=en")
        assert "Single sign-on" in form.text and 'name="password"' not in form.text
        no_form = web.post("/dashboard/login", data={"username": "ivanov", "password": PASSWORDS["ivanov"]})
        assert no_form.status_code == 403 and COOKIE not in web.cookies  # password sign-in is switched off
        stray = web.get("/dashboard/oidc/callback?state=abc&code=xyz&lang=en")
        assert stray.status_code == 401 and "started in another browser" in stray.text
        refused = web.get("/dashboard/oidc/callback?error=access_denied&state=abc")
        assert refused.status_code == 401 and "access_denied" in refused.text
        down = web.get("/dashboard/oidc/start", follow_redirects=False)
        assert down.status_code == 502 and "not reachable" in down.text
        assert COOKIE not in web.cookies


def test_a_missing_oidc_secret_stops_the_app_at_start(sqlite_url: str, tmp_path: Path, clock: SimulatedClock) -> None:
    from api.app import create_app
    from api.testing import example_config, runtime
    from core.errors import ConfigError

    raw = example_config()
    raw["auth"] = {"oidc": {"issuer": "https://id.example.com", "client_id": "slaflow",
                            "client_secret": {"env": "SLAFLOW_OIDC_SECRET"}}}
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
    served = runtime(sqlite_url, config)
    try:
        with pytest.raises(ConfigError, match="auth.oidc.client_secret: environment variable SLAFLOW_OIDC_SECRET"):
            create_app(served, clock, environ=samples.SAMPLE_ENV)
    finally:
        served.engine.dispose()
