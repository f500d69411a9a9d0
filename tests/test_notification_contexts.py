"""An event's messages are built once per language, not once per recipient (notifications.events
`_produce`), and the clock's used minutes are counted once per event (`context.used_once`): each
stored context must still be exactly the one built for its recipient alone, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import cases, records
from engine.clock_view import clock_used
from notifications import context as ctx
from notifications import events
from notifications.config import notifications_config
from org.audience import Scope, calendar_of_person, locale_of, resolve
from org.chart import Company
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from sla import breach_log
from sla.model import ClockKind, ClockRecord
from storage.db import json_dumps
from storage.models import OutboxMessage, SlaClock, table
from tests.conftest import MONDAY_0900_MSK

COMPANY = load_company(EXAMPLE_COMPANY)  # not a fixture: hypothesis prints its arguments with each example
PEOPLE = sorted(COMPANY.config.people)
WORDS = ["owner", "department_head", "head_manager", "director", "requester", "performer_members"]
KINDS = ["warning", "breach", "escalation"]
_clocks = table(SlaClock)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction per test, rolled back (each hypothesis example opens its own case)."""
    with sessions() as session:
        yield session
        session.rollback()


def _fire(session: Session, kind: str, audience: list[str], minutes: int) -> tuple[Any, Any, Any, datetime, str]:
    """Open a return, then say ``kind`` about its step clock ``minutes`` after it opened."""
    case_id = cases.open_case(session, COMPANY, case_type="return", actor=COMPANY.actor("ivanov"),
                              data={"customer": "c", "order": "o", "reason": "r"}, now=MONDAY_0900_MSK).id
    case = records.load(session, case_id)
    clock = session.execute(select(_clocks).where(_clocks.c.case_id == case_id,
                                                  _clocks.c.kind == ClockKind.STEP)).one()
    now = MONDAY_0900_MSK + timedelta(minutes=minutes)
    breach = breach_log.row_of(ClockRecord.of(clock), now=now, breach_id=10_000 + case_id)  # open: late so far
    if kind == "warning":
        events.step_warning(session, COMPANY, case, clock, now=now)
    elif kind == "breach":
        events.step_breached(session, COMPANY, case, clock, breach, now=now)
    else:
        events.escalated(session, COMPANY, case, clock, level=2, audience=audience, now=now)
    return case, clock, breach, now, f"case={case_id}|clock={clock.id}"


def _alone(session: Session, company: Company, kind: str, person: str, case: Any, clock: Any, breach: Any,
           now: datetime) -> dict[str, Any]:
    """The context as it was built before: everything for this one recipient, counted afresh."""
    locale = locale_of(company, person)
    tz = calendar_of_person(company, person, clock.department).config.tz
    built: dict[str, Any] = {**ctx.base(company, person, locale, tz), "case": ctx.case_context(company, case, locale)}
    if kind == "escalation":
        built["level"] = 2
    built["clock"] = ctx.clock_context(session, company, case, clock, now, locale)
    if kind == "breach":
        built["breach"] = ctx.breach_context(session, company, clock, breach, now)
    return built


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    audience=st.lists(st.sampled_from([f"person:{p}" for p in PEOPLE] + WORDS), min_size=1, max_size=7, unique=True),
    minutes=st.integers(min_value=0, max_value=6000),
)
def test_each_recipients_context_is_the_one_built_for_them_alone(
    session: Session, kind: str, audience: list[str], minutes: int
) -> None:
    case, clock, breach, now, key = _fire(session, kind, audience, minutes)
    stored = session.execute(select(OutboxMessage.recipient, OutboxMessage.channel, OutboxMessage.context)
                             .where(OutboxMessage.dedupe_key.like(f"{kind}|{key}|%")).order_by(OutboxMessage.id)).all()
    specs = audience if kind == "escalation" else notifications_config(COMPANY).audience(kind)
    recipients = resolve(COMPANY, specs, Scope.of_clock(case, clock))
    assert list(dict.fromkeys(r for r, _, _ in stored)) == recipients
    ordered = session.get_bind().dialect.name == "sqlite"  # (PostgreSQL's jsonb keeps no key order)
    for recipient, _, context in stored:
        alone = json.loads(json_dumps(_alone(session, COMPANY, kind, recipient, case, clock, breach, now)))
        assert context == alone
        assert not ordered or json.dumps(context) == json.dumps(alone)  # the same text


def test_an_events_clock_minutes_are_counted_once_for_all_its_recipients(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[float] = []
    real = clock_used

    def counting(*args: Any, **kwargs: Any) -> float:
        counted.append(real(*args, **kwargs))
        return counted[-1]

    monkeypatch.setattr(ctx, "clock_used", counting)
    audience = ["person:kowalski", "person:nowak", "director", "person:smirnov"]  # two in Polish, two in Russian
    _, _, _, _, key = _fire(session, "breach", audience, 3000)
    _fire(session, "escalation", audience, 3000)
    messages = session.execute(select(OutboxMessage.recipient).where(OutboxMessage.kind.in_(["breach", "escalation"]))
                               ).scalars().all()
    assert len(set(messages)) >= 2 and len(counted) == 2  # one count an event, whatever its audience


def test_a_recipients_language_is_looked_up_again_for_another_company_object(session: Session) -> None:
    """The per-session lookup of a recipient's language and calendar is keyed on the company
    object: a reloaded config (another object) is read afresh, even in the same session."""
    people = dict(COMPANY.config.people)
    people["kowalski"] = people["kowalski"].model_copy(update={"locale": "en"})
    reloaded = Company(config=COMPANY.config.model_copy(update={"people": people}), source=COMPANY.source,
                       case_types=COMPANY.case_types)
    case, clock, _, now, key = _fire(session, "escalation", ["person:kowalski"], 3000)
    events.escalated(session, reloaded, case, clock, level=3, audience=["person:kowalski"], now=now)
    events.escalated(session, COMPANY, case, clock, level=4, audience=["person:kowalski"], now=now)
    stored = session.execute(select(OutboxMessage.level, OutboxMessage.locale, OutboxMessage.context)
                             .where(OutboxMessage.dedupe_key.like(f"escalation|{key}|%")).order_by(OutboxMessage.level)
                             ).all()
    assert [(level, locale) for level, locale, _ in stored] == [(2, "pl"), (3, "en"), (4, "pl")]
    assert [context["recipient"]["name"] for _, _, context in stored] == ["Jan Kowalski"] * 3
    assert [context["case"]["type_label"] == ctx.case_context(COMPANY, case, "en")["type_label"]
            for _, _, context in stored] == [False, True, False]
