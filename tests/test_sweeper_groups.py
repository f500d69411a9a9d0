"""Timers fire in groups for speed; a timer that raises must not block its group, and one that
keeps failing is given up on, visibly."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.vocabulary import TimerKind
from engine import cases
from engine.timers import MAX_ATTEMPTS, sweep
from org.chart import Company
from storage.models import Breach, Timer


def test_a_bad_timer_in_a_group_is_set_aside_and_the_others_fire(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with sessions.begin() as session:
        for _ in range(6):
            cases.open_case(session, company, case_type="return", data={"customer": "c", "order": "o", "reason": "r"},
                            actor=company.actor("ivanov"), now=clock.now())
        bad = session.scalars(select(Timer.id).where(Timer.kind == "breach", Timer.state == "inspection")
                              .order_by(Timer.id).limit(1)).one()
        # A trigger the case type does not have: firing the timer raises (an unknown kind cannot
        # be stored at all, see test_vocabulary_checks).
        session.execute(update(Timer).where(Timer.id == bad).values(kind=TimerKind.AUTO, trigger="mystery"))
    clock.advance(timedelta(hours=9))
    result = sweep(sessions, company, now=clock.now(), owner="s", group=50)
    # (The warnings were due at 15:00: past their deadline their stage has passed, so they are
    # cancelled, not sent.)
    assert result.failed == 1 and result.fired["breach"] == 5 and result.skipped == 6 and "warning" not in result.fired
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Breach)) == 5
        broken = session.get(Timer, bad)
        assert broken is not None and broken.status == "pending"
        assert broken.last_error == (f"IllegalTransition: case {broken.case_id}: trigger 'mystery' is not allowed in "
                                     "state 'inspection'; allowed triggers: approve, reject, request_info, withdraw")
    for attempt in range(MAX_ATTEMPTS + 1):  # each sweep claims it again, until it gives up
        sweep(sessions, company, now=clock.now() + timedelta(minutes=attempt), owner="s")
    with sessions() as session:
        broken = session.get(Timer, bad)
        assert broken is not None and broken.status == "failed"


def test_sweep_needs_a_time(sessions: sessionmaker[Session], company: Company) -> None:
    import pytest

    with pytest.raises(ValueError, match="exactly one of now= or clock="):
        sweep(sessions, company, owner="s")
