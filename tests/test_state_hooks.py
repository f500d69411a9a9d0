"""A state may start a Prefect deployment on entry: a hook timer written with the state change,
fired once by a sweeper that can start deployments (the Prefect flow passes
`flows.hooks.start_state_hook`, tested against a real Prefect server in test_flows_prefect)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_mapping
from core.clock import SimulatedClock
from engine import cases
from engine.timers import sweep
from runtime.company import company_from_mapping
from storage.models import Timer


def test_entering_a_hooked_state_starts_its_deployment_once(
    sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    raw: dict[str, Any] = example_mapping()
    raw["case_types"]["price_approval"]["states"]["approval"]["hook"] = "notify-cfo/default"
    company = company_from_mapping(raw)
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                  data={"customer": "c", "deal": "d", "discount_pct": 10}, now=clock.now()).id
        cases.fire(session, company, case_id=case_id, trigger="margin_ok", actor=company.actor("morozova"),
                   payload={"margin_pct": 18}, now=clock.now())
    started: list[tuple[str, int, int]] = []
    assert sweep(sessions, company, now=clock.now(), owner="plain").fired["hook"] == 0  # no handler: left pending
    with sessions() as session:
        assert session.scalars(select(Timer.status).where(Timer.kind == "hook")).one() == "pending"
    for _ in range(2):
        sweep(sessions, company, now=clock.now(), owner="prefect",
              hooks=lambda deployment, case, seq: started.append((deployment, case, seq)))
    assert started == [("notify-cfo/default", case_id, 2)]  # the state was entered by event 2


def test_a_hook_starts_after_its_transaction_committed_with_no_row_locked(
    sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    """The hook handler (Prefect, over the network) runs with the case free: another
    transaction can lock the case row at once (NOWAIT on PostgreSQL; SQLite's write lock)."""
    from sqlalchemy import update

    from storage.models import Case

    raw: dict[str, Any] = example_mapping()
    raw["case_types"]["price_approval"]["states"]["approval"]["hook"] = "notify-cfo/default"
    company = company_from_mapping(raw)
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                  data={"customer": "c", "deal": "d", "discount_pct": 10}, now=clock.now()).id
        cases.fire(session, company, case_id=case_id, trigger="margin_ok", actor=company.actor("morozova"),
                   payload={"margin_pct": 18}, now=clock.now())
    seen: list[str] = []

    def hook(deployment: str, case: int, seq: int) -> None:
        with sessions.begin() as other:
            other.execute(select(Case.id).where(Case.id == case).with_for_update(nowait=True))
            other.execute(update(Case).where(Case.id == case).values(version=Case.version))  # SQLite: the write lock
            status = other.scalars(select(Timer.status).where(Timer.case_id == case, Timer.kind == "hook")).one()
        seen.append(status)

    result = sweep(sessions, company, now=clock.now(), owner="prefect", hooks=hook)
    assert seen == ["pending"] and result.fired["hook"] == 1  # started before being marked fired
    with sessions() as session:
        assert session.scalars(select(Timer.status).where(Timer.kind == "hook")).one() == "fired"
