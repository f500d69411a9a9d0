"""``slaflow token`` and ``slaflow user`` through the real entry point (``slaflow.cli.main``):
a token is printed once and stored hashed, listed with its last use, revoked at once; an
invitation link works in the app; mistakes are one ``error:`` line and exit 2."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from api.testing import serving, sign_in, write_config
from core.clock import SimulatedClock
from crm import samples
from org.secrets import sha256_hex
from slaflow.cli import main
from storage.models import StoredToken


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
        stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["slaflow", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def options(db_url: str, tmp_path: Path) -> list[str]:
    return ["--database-url", db_url, "--config", str(write_config(tmp_path))]


def test_a_token_is_printed_once_stored_hashed_used_listed_and_revoked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], options: list[str], db_url: str,
    clock: SimulatedClock,
) -> None:
    code, out, _ = run(monkeypatch, capsys, "token", "create", "--person", "popov", *options)
    assert code == 0
    token = out.splitlines()[0].strip()
    assert token.startswith("slf_") and len(token) > 40
    with serving(db_url, Path(options[3]), clock, samples.SAMPLE_ENV) as client:
        with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
            row = session.scalar(select(StoredToken).where(StoredToken.name == "popov"))
            assert row is not None and row.token_sha256 == sha256_hex(token) and row.last_used_at is None
        assert client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
            assert session.scalar(select(StoredToken.last_used_at).where(StoredToken.name == "popov")) == clock.now()

        code, out, _ = run(monkeypatch, capsys, "token", "list", "--json", *options)
        [listed] = [json.loads(line) for line in out.splitlines()]
        assert code == 0 and token not in out
        assert (listed["name"], listed["person"], listed["last_used_at"]) == ("popov", "popov", clock.now().isoformat())
        code, out, _ = run(monkeypatch, capsys, "token", "revoke", "popov", *options)
        assert code == 0
        assert client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    code, out, _ = run(monkeypatch, capsys, "token", "list", "--json", *options)
    assert out == ""  # revoked tokens are listed only with --all
    code, out, _ = run(monkeypatch, capsys, "token", "list", "--all", "--json", *options)
    assert json.loads(out)["revoked_at"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "create", "--person", "ivanof"], "unknown person 'ivanof'"),
        (["token", "create", "--membership", "warehouse/storekeeper"], "needs --name"),
        (["token", "create", "--name", "x", "--membership", "warehous/storekeeper"], "no department 'warehous'"),
        (["token", "create", "--name", "x", "--membership", "warehouse/pilot"], "has the role 'pilot'"),
        (["token", "create", "--person", "ivanov"], "already exists"),  # the company file has one named so
        (["token", "create", "--person", "ivanov", "--name", "a", "--membership", "sales/manager"], "not both"),
        (["token", "revoke", "nothing"], "no token named 'nothing'"),
        (["user", "invite", "ivanof"], "unknown person"),
        (["user", "set-password", "ivanov", "--password-stdin"], "at least 10 characters"),
    ],
)
def test_mistakes_are_one_error_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], options: list[str], args: list[str],
    message: str,
) -> None:
    code, _, err = run(monkeypatch, capsys, *args, *options, stdin="short\n")
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert err.strip().startswith("error:")


def test_an_invited_person_sets_a_password_from_the_printed_link_and_signs_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], options: list[str], db_url: str,
    clock: SimulatedClock,
) -> None:
    code, out, _ = run(monkeypatch, capsys, "user", "invite", "kozlov", "--admin", "--base-url", "http://testserver",
                       *options)
    link = out.split()[0]
    assert code == 0 and link.startswith("http://testserver/dashboard/invite/")
    code, out, _ = run(monkeypatch, capsys, "user", "set-password", "volkova", "--password-stdin", *options,
                       stdin="volkova-long-password\n")
    assert code == 0
    code, out, _ = run(monkeypatch, capsys, "user", "list", *options)
    assert "kozlov" in out and "volkova" in out
    with serving(db_url, Path(options[3]), clock, samples.SAMPLE_ENV) as client:
        path = link.removeprefix("http://testserver")
        csrf = client.get(path).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = client.post(path, data={"password": "kozlov-long-pw", "repeat": "kozlov-long-pw", "csrf": csrf},
                           follow_redirects=False)
        assert done.status_code == 303
        client.cookies.clear()
        assert sign_in(client, "volkova", password="volkova-long-password").status_code == 303
