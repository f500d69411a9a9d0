"""Messages about SLA stages (issue 12, observations 1, 6 and 7): escalation levels count the
owner's own business time past the deadline, so a pause shifts them; levels reaching one person
at one moment become one message; a warning whose stage has passed is never sent; the times
recorded are the moments things happened."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from engine import cases
from engine.rebuild import rebuild
from engine.timers import claim_due, fire_timer, sweep
from org.chart import Company
from storage.models import Breach, OutboxMessage, Timer

RETURN = {"customer": "c", "order": "o", "reason": "r"}
REPLACEMENT = {"customer": "c", "order": "o", "product": "p", "complaint": "x"}


def _fire(sessions: sessionmaker[Session], company: Company, at: datetime, case_id: int, trigger: str, actor: str,
          **payload: str) -> None:
    with sessions.begin() as session:
        cases.fire(session, company, case_id=case_id, trigger=trigger, actor=company.actor(actor), payload=payload,
                   now=at)


def _open(sessions: sessionmaker[Session], company: Company, at: datetime, case_type: str, data: dict[str, str],
          actor: str) -> int:
    with sessions.begin() as session:
        return cases.open_case(session, company, case_type=case_type, data=data, actor=company.actor(actor),
                               now=at).id


def _messages(sessions: sessionmaker[Session], kind: str) -> Counter[tuple[int, str]]:
    with sessions() as session:
        email = OutboxMessage.channel == "email"
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind, email))
        return Counter((m.level, m.recipient) for m in rows)


def test_a_dependency_pause_shifts_the_pending_escalation_levels_by_its_length(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # Monday 09:00 Moscow. The warehouse's picking step (4 h, shift 08-20) is due 13:00; it is
    # two business hours late when it hands the case to purchasing at 15:00, and gets it back
    # on Wednesday 15:00. Levels at +4 h, +8 h, +16 h of the warehouse's own time past the
    # deadline: 2 h are used, so +2 h (Wed 17:00), +6 h (Wed 15-20 is 5 h: Thu 09:00) and
    # +14 h (Wed 5 h + Thu 9 h: Thu 17:00). Counting from the old deadline would have made all
    # three due (Mon 17:00, Tue 09:00, Tue 17:00) while purchasing held the case.
    case_id = _open(sessions, company, clock.now(), "replacement", REPLACEMENT, "petrova")
    _fire(sessions, company, clock.now(), case_id, "confirm_defect", "nowak", cause="batch")
    sweep(sessions, company, now=clock.advance(timedelta(hours=6)), owner="s")  # 15:00: the breach
    _fire(sessions, company, clock.now(), case_id, "out_of_stock", "popov")
    resumed = clock.advance(timedelta(days=2))
    sweep(sessions, company, now=resumed, owner="s")
    _fire(sessions, company, resumed, case_id, "supplied", "egorov", supply_doc="PO")
    with sessions() as session:
        pending = sorted(
            (t.level, t.due_at)
            for t in session.scalars(select(Timer).where(Timer.kind == "escalation", Timer.status == "pending"))
        )
    msk = resumed - timedelta(hours=15)  # Wednesday 00:00 Moscow
    assert pending == [(1, msk + timedelta(hours=17)), (2, msk + timedelta(hours=33)),
                       (3, msk + timedelta(hours=41))]
    assert sweep(sessions, company, now=resumed + timedelta(minutes=30), owner="s").fired["escalation"] == 0
    assert sweep(sessions, company, now=resumed + timedelta(hours=2), owner="s").fired["escalation"] == 1
    assert _messages(sessions, "escalation") == Counter({(1, "smirnov"): 1})
    assert rebuild(sessions, company).ok


def test_levels_due_together_reach_a_person_once_naming_the_higher_level(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # Inspection due Monday 17:00; the default chain's levels 2 (head's manager) and 3 (director)
    # are both Orlov. Swept only on Wednesday 10:00, all three are due at once.
    _open(sessions, company, clock.now(), "return", RETURN, "ivanov")
    sweep(sessions, company, now=clock.advance(timedelta(days=2, hours=1)), owner="s")
    assert _messages(sessions, "escalation") == Counter({(1, "smirnov"): 1, (3, "orlov"): 1})


def test_levels_due_together_give_the_same_messages_whichever_order_they_fire_in(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # As above, but the levels fire highest first, as two sweepers may take them (each level in
    # its own transaction): the head of the warehouse still hears level 1, Orlov level 3 only.
    # (Before, a level found a higher one fired and was cancelled: Smirnov never heard.)
    case_id = _open(sessions, company, clock.now(), "return", RETURN, "ivanov")
    at = clock.advance(timedelta(days=2, hours=1))
    with sessions.begin() as session:
        claimed = claim_due(session, now=at, owner="s", lease=timedelta(minutes=5))
    with sessions() as session:
        rows = session.execute(select(Timer.id, Timer.kind, Timer.level).where(Timer.id.in_(claimed))).all()
    escalations = sorted((row for row in rows if row.kind == "escalation"), key=lambda row: -row.level)
    assert [row.level for row in escalations] == [3, 2, 1]
    for timer_id in [row.id for row in rows if row.kind != "escalation"] + [row.id for row in escalations]:
        with sessions.begin() as session:
            fire_timer(session, company, timer_id=timer_id, owner="s", now=at)
    assert _messages(sessions, "escalation") == Counter({(1, "smirnov"): 1, (3, "orlov"): 1})
    with sessions() as session:
        statuses = set(session.scalars(select(Timer.status).where(Timer.case_id == case_id,
                                                                  Timer.kind == "escalation")))
    assert statuses == {"fired"}
    assert rebuild(sessions, company).ok


def test_a_level_whose_stage_passed_before_it_came_due_is_cancelled(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # Level 1 moved past Wednesday 10:00 (as a dependency pause moves a pending level); levels 2
    # and 3 fire at 10:00. When level 1 comes due at 12:00 its stage has passed: nobody hears it.
    case_id = _open(sessions, company, clock.now(), "return", RETURN, "ivanov")
    wednesday = clock.advance(timedelta(days=2, hours=1))
    with sessions.begin() as session:
        level_one = session.scalars(select(Timer).where(Timer.case_id == case_id, Timer.kind == "escalation",
                                                        Timer.level == 1)).one()
        level_one.due_at = wednesday + timedelta(hours=2)
        moved = level_one.id
    assert sweep(sessions, company, now=wednesday, owner="s").fired["escalation"] == 2
    assert _messages(sessions, "escalation") == Counter({(3, "orlov"): 1})
    assert sweep(sessions, company, now=wednesday + timedelta(hours=3), owner="s").fired["escalation"] == 0
    assert _messages(sessions, "escalation") == Counter({(3, "orlov"): 1})
    with sessions() as session:
        assert session.scalars(select(Timer.status).where(Timer.id == moved)).one() == "cancelled"


def test_a_warning_due_in_the_same_sweep_as_its_breach_is_not_sent(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open(sessions, company, clock.now(), "return", RETURN, "ivanov")  # warning 15:00, deadline 17:00
    sweep(sessions, company, now=clock.advance(timedelta(hours=9)), owner="s")  # Monday 18:00
    assert _messages(sessions, "breach") and not _messages(sessions, "warning")
    with sessions() as session:
        [step_warning] = session.scalars(select(Timer).where(Timer.kind == "warning", Timer.state == "inspection"))
        assert step_warning.status == "cancelled" and step_warning.fired_at is None


def test_a_warning_reclaimed_after_its_lease_expired_is_not_sent_after_the_breach(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open(sessions, company, clock.now(), "return", RETURN, "ivanov")
    with sessions.begin() as session:  # a worker claims the due warning at 16:59 and dies
        dying = clock.now() + timedelta(hours=7, minutes=59)
        assert len(claim_due(session, now=dying, owner="dead", lease=timedelta(minutes=2))) == 1
    sweep(sessions, company, now=dying + timedelta(seconds=90), owner="live")  # 17:00:30: the breach
    sweep(sessions, company, now=dying + timedelta(minutes=3), owner="live")  # the lease has run out
    assert _messages(sessions, "breach") and not _messages(sessions, "warning")


class TickingClock(SimulatedClock):
    """A clock that moves on a second every time it is read, like a slow sweep's real clock."""

    def now(self) -> datetime:
        return self.advance(timedelta(seconds=1))


def test_fired_at_created_at_and_detected_at_are_the_moment_of_each_fire(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    for _ in range(3):
        _open(sessions, company, clock.now(), "return", RETURN, "ivanov")
    started = clock.now() + timedelta(hours=9)  # Monday 18:00: three breaches due, 17:00
    ticking = TickingClock(started)
    result = sweep(sessions, company, clock=ticking, owner="s")
    assert result.fired["breach"] == 3
    with sessions() as session:
        fired: dict[int | None, datetime | None] = {t.clock_id: t.fired_at for t in session.scalars(
            select(Timer).where(Timer.kind == "breach", Timer.status == "fired", Timer.state == "inspection"))}
        breaches = {b.clock_id: b for b in session.scalars(select(Breach).where(Breach.kind == "step"))}
        created = {m.case_id: m.created_at for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "breach"))}
    moments = [at for at in fired.values() if at is not None]
    assert len(set(moments)) == 3 and min(moments) > started + timedelta(seconds=1)
    for clock_id, at in fired.items():
        assert clock_id is not None
        breach = breaches[clock_id]
        assert breach.detected_at == at and created[breach.case_id] == at
        assert breach.breached_at == breach.deadline_at == started - timedelta(hours=1)
