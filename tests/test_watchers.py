"""Requester and watchers (issue 19, point 3): whoever opened a case and anyone who follows it hear
of each step change, the outcome, an automatic release, and (when configured) a hold about to
expire; following is scoped like reading, through the REST API and the CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import dump_yaml, example_config, serving, token_header, write_config
from core.clock import SimulatedClock
from core.errors import CaseNotFound
from crm import samples
from engine import cases
from engine.timers import sweep
from notifications.render import render
from notifications.watchers import follow, watchers
from org.actors import person_scope
from org.chart import Company
from runtime.company import load_company
from slaflow.cli import main
from storage.models import OutboxMessage

RESERVATION = {"customer": "Acme", "deal": "D-1", "items": "pumps x10"}


def sent(session: Session, kind: str) -> list[tuple[int | None, str]]:
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
    return sorted({(row.case_id, row.recipient) for row in rows})


def held(session: Session, company: Company, now: object) -> int:
    """A reservation ivanov opened, approved and reserved: the hold runs for 24 business hours."""
    case_id = cases.open_case(session, company, case_type="reservation", data=RESERVATION,
                              actor=company.actor("ivanov"), now=now).id  # type: ignore[arg-type]
    cases.fire(session, company, case_id=case_id, trigger="approve", actor=company.actor("kuznetsova"),
               now=now)  # type: ignore[arg-type]
    cases.fire(session, company, case_id=case_id, trigger="reserved", actor=company.actor("popov"),
               now=now, payload={"reservation_doc": "R-1"})  # type: ignore[arg-type]
    return case_id


def test_the_opener_and_followers_hear_each_step_and_the_automatic_release(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    now = clock.now()
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="reservation", data=RESERVATION,
                                  actor=company.actor("ivanov"), now=now).id
        assert watchers(session, company, case_id) == ["ivanov"]
        follow(session, company, person_scope(company, "petrova")[1], case_id=case_id, person="petrova", now=now)
        cases.fire(session, company, case_id=case_id, trigger="approve", actor=company.actor("kuznetsova"), now=now)
        assert sent(session, "step_changed") == [(case_id, "ivanov"), (case_id, "petrova")]
        follow(session, company, person_scope(company, "ivanov")[1], case_id=case_id, person="ivanov", now=now,
               following=False)
        assert watchers(session, company, case_id) == ["petrova"]
        cases.fire(session, company, case_id=case_id, trigger="reserved", actor=company.actor("popov"), now=now,
                   payload={"reservation_doc": "R-1"})
        changes = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "step_changed")).all()
        assert sorted(m.recipient for m in changes) == ["ivanov", "petrova", "petrova"]
        with pytest.raises(CaseNotFound):  # following needs read access: accounting takes no part yet
            follow(session, company, person_scope(company, "morozova")[1], case_id=case_id, person="morozova",
                   now=now)
    sweep(sessions, company, now=now + timedelta(days=7), owner="s")  # the 24 h hold has run out: released
    with sessions() as session:
        assert cases.get_case(session, case_id).state == "released"
        resolved = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "resolved",
                                                               OutboxMessage.recipient == "petrova")).all()
        assert resolved and all(m.context["automatic"] is True for m in resolved)
        chat = render("resolved", "en", "chat", resolved[0].context).text
        assert sent(session, "hold_expiring") == []  # no notice is configured in the example company
    assert "(automatically)" in chat


def test_a_configured_notice_warns_the_watchers_before_a_hold_expires(
    sessions: sessionmaker[Session], clock: SimulatedClock, tmp_path: Path
) -> None:
    raw = example_config()
    raw.setdefault("notifications", {})["hold_notice_minutes"] = 240
    path = tmp_path / "company.yaml"
    path.write_text(dump_yaml(raw), encoding="utf-8")
    company = load_company(path)
    now = clock.now()  # Monday 09:00; sales works 09-13 and 14-18: the 24 business hours of the hold end
    # Wednesday 18:00, and the notice 4 business hours before it is due Wednesday 13:00
    with sessions.begin() as session:
        case_id = held(session, company, now)
    sweep(sessions, company, now=now + timedelta(days=2, hours=3), owner="s")  # Wednesday 12:00: not yet
    with sessions() as session:
        assert sent(session, "hold_expiring") == []
    sweep(sessions, company, now=now + timedelta(days=2, hours=4, minutes=30), owner="s")  # Wednesday 13:30
    with sessions() as session:
        assert sent(session, "hold_expiring") == [(case_id, "ivanov")]
        notice = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hold_expiring")).first()
        assert notice is not None and cases.get_case(session, case_id).state == "held"
        expires = notice.context["expires_at"]
    with sessions.begin() as session:  # converted before it expires: no release, the notice was the only one
        cases.fire(session, company, case_id=case_id, trigger="convert", actor=company.actor("ivanov"),
                   now=now + timedelta(days=2, hours=6), payload={"order": "O-1"})
    sweep(sessions, company, now=now + timedelta(days=5), owner="s")
    with sessions() as session:
        assert sent(session, "hold_expiring") == [(case_id, "ivanov")]
        assert cases.get_case(session, case_id).state != "released"
    assert expires == (now + timedelta(days=2, hours=9)).isoformat()  # Wednesday 18:00


def test_following_over_rest_and_cli_is_scoped(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sessions.begin() as session:
        case_id = held(session, company, clock.now())
    with serving(db_url, write_config(tmp_path), SimulatedClock(clock.now()), samples.SAMPLE_ENV) as client:
        url = f"/api/cases/{case_id}/watchers"
        assert client.put(f"{url}/me", headers=token_header("morozova")).status_code == 404
        assert client.put(f"{url}/me", headers=token_header("erp")).status_code == 422
        followed = client.put(f"{url}/me", headers=token_header("kuznetsova"))
        assert followed.status_code == 200 and followed.json()["watchers"] == ["ivanov", "kuznetsova"]
        again = client.put(f"{url}/me", headers=token_header("kuznetsova"))
        assert again.json()["watchers"] == ["ivanov", "kuznetsova"]
        left = client.delete(f"{url}/me", headers=token_header("ivanov"))
        assert left.json()["watchers"] == ["kuznetsova"]
        assert client.get(url, headers=token_header("morozova")).status_code == 404
    common = ["--database-url", db_url, "--config", str(write_config(tmp_path))]
    with pytest.raises(SystemExit) as exited:
        main(["watch", "follow", str(case_id), "--as", "petrova", *common])
    assert exited.value.code in (0, None)
    assert f"case {case_id}: followed by kuznetsova, petrova" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["watch", "follow", "999999", "--as", "petrova", *common])
    captured = capsys.readouterr()
    assert exited.value.code == 2 and captured.err.strip() == "error: case 999999 does not exist"
