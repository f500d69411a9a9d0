"""Messages about what happens to a case: the subscriber to the engine's events (`engine.events`).

`subscribe` (called by ``runtime.wiring``) hands each event to the function writing its
messages. Each runs inside the engine's open transaction and only writes `OutboxMessage` rows
(idempotently, so re-processing a cause adds nothing). Who hears about what comes from the
``notifications.audiences`` config over `DEFAULT_AUDIENCES`; delivery is the dispatcher's job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from core.clock import ensure_utc
from core.errors import UnknownPerson
from engine import events as ev
from engine.timer_kinds import schedule_notice
from notifications import context as ctx
from notifications.config import notifications_config
from notifications.enqueue import dedupe_key, enqueue, enqueue_rows, message_rows
from org.audience import Scope, calendar_of_person, locale_of, person_spec, resolve
from storage.models import CaseEvent, OutboxMessage, table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from notifications.context import BreachLike, CaseLike, ClockLike
    from org.chart import Company
    from sla.calendar import BusinessCalendar

_events = table(CaseEvent)
_SOURCE = select(_events.c.source).where(
    _events.c.case_id == bindparam("b_case_id"), _events.c.seq == bindparam("b_seq")
)
"""Built once: each step change reads it (`_moved_by`)."""

Build = Callable[[str], dict[str, Any]]
"""locale -> kind-specific template variables: the same for every recipient reading that
language, so `_produce` builds them once per language of an event, not once per recipient."""


def case_opened(session: Session, company: Company, case: CaseLike, *, now: datetime) -> None:
    """Both departments hear that a case between them exists (or the people the case names)."""
    _produce(session, company, "case_opened", case, Scope.of_case(case), key=f"case={case.id}", now=now,
             build=lambda locale: {}, audience=_named_in(case))


def case_assigned(session: Session, company: Company, case: CaseLike, *, person: str, now: datetime) -> None:
    """The person now holding the step (each assignment event is its own message)."""
    def build(locale: str) -> dict[str, Any]:
        return {"assignee_name": ctx.person_name(company, person, locale)}

    _produce(session, company, "assigned", case, Scope.of_case(case, assignee=person),
             key=f"case={case.id}|event={case.version}", now=now, build=build)


def step_warning(session: Session, company: Company, case: CaseLike, clock: ClockLike, *, now: datetime) -> None:
    """The deadline of a clock is near; one message per clock (each state visit has its own)."""
    used = ctx.used_once(session, company, clock, now)

    def build(locale: str) -> dict[str, Any]:
        return {"clock": ctx.clock_context(session, company, case, clock, now, locale, used=used())}

    _produce(session, company, "warning", case, Scope.of_clock(case, clock), key=f"case={case.id}|clock={clock.id}",
             now=now, department=clock.department, build=build)


def step_breached(
    session: Session, company: Company, case: CaseLike, clock: ClockLike, breach: BreachLike, *, now: datetime
) -> None:
    """A clock missed its deadline: its owner and the owning department's head."""
    used = ctx.used_once(session, company, clock, now)

    def build(locale: str) -> dict[str, Any]:
        return {"clock": ctx.clock_context(session, company, case, clock, now, locale, used=used()),
                "breach": ctx.breach_context(session, company, clock, breach, now, used=used())}

    _produce(session, company, "breach", case, Scope.of_clock(case, clock), key=f"case={case.id}|clock={clock.id}",
             now=now, department=clock.department, build=build)


def escalated(
    session: Session, company: Company, case: CaseLike, clock: ClockLike, *, level: int, audience: list[str],
    now: datetime,
) -> None:
    """Escalation level ``level`` of a clock to ``audience`` (audience specs, e.g. from an
    escalation chain: ``[head_manager]``, ``[director]``, ``[person:orlov]``)."""
    used = ctx.used_once(session, company, clock, now)

    def build(locale: str) -> dict[str, Any]:
        return {"level": level, "clock": ctx.clock_context(session, company, case, clock, now, locale, used=used())}

    _produce(session, company, "escalation", case, Scope.of_clock(case, clock), key=f"case={case.id}|clock={clock.id}",
             now=now, department=clock.department, level=level, audience=audience, build=build)


def mentioned(session: Session, company: Company, case: CaseLike, *, author: str, people: list[str], text: str,
              now: datetime) -> None:
    """People named with ``@person`` in a comment (each comment event is its own message)."""
    def build(locale: str) -> dict[str, Any]:
        return {"author_name": ctx.person_name(company, author, locale), "comment": text[:500]}

    _produce(session, company, "mention", case, Scope.of_case(case), key=f"case={case.id}|event={case.version}",
             now=now, build=build, audience=[person_spec(person) for person in people])


def case_moved(session: Session, company: Company, case: CaseLike, *, now: datetime, source: str | None = None) -> None:
    """The case entered a new (non-terminal) step: its watchers hear of it (notifications.watchers).
    ``source`` is the moving event's (read from the log when not given)."""
    _produce(session, company, "step_changed", case, Scope.of_case(case), key=f"case={case.id}|event={case.version}",
             now=now, build=_moved_by(session, case, source), audience=_watching(session, company, case))


def case_resolved(
    session: Session, company: Company, case: CaseLike, *, now: datetime, source: str | None = None
) -> None:
    """The case reached a terminal state; both departments and the case's watchers hear the outcome
    (``source``: as for `case_moved`)."""
    named = _named_in(case)
    audience = [*(named if named is not None else notifications_config(company).audience("resolved")),
                *_watching(session, company, case)]
    _produce(session, company, "resolved", case, Scope.of_case(case), key=f"case={case.id}", now=now,
             department=case.performer, build=_moved_by(session, case, source), audience=audience)


def hold_expiring(session: Session, company: Company, case: CaseLike, *, expires_at: datetime, now: datetime) -> None:
    """A step that releases itself (an automatic transition, e.g. a reservation's hold) is about
    to: the case's watchers hear when, so they can act before it goes."""
    def build(locale: str) -> dict[str, Any]:
        return {"expires_at": ensure_utc(expires_at).isoformat()}

    _produce(session, company, "hold_expiring", case, Scope.of_case(case),
             key=f"case={case.id}|hold={ensure_utc(expires_at).isoformat()}", now=now, build=build,
             audience=_watching(session, company, case))


def _watching(session: Session, company: Company, case: CaseLike) -> list[str]:
    from notifications.watchers import watchers

    return [person_spec(person) for person in watchers(session, company, case.id)]


def _moved_by(session: Session, case: CaseLike, source: str | None) -> Build:
    """Whether the move was automatic (a timer's, e.g. a hold released when it expired)."""
    if source is None:
        source = session.connection().execute(_SOURCE, {"b_case_id": case.id, "b_seq": case.version}).scalar()
    automatic = source == "timer"
    return lambda locale: {"automatic": automatic}


def _named_in(case: CaseLike) -> list[str] | None:
    """A case may name who hears of its opening and outcome (``data["notify"]``, person ids —
    e.g. a recurring duty's subscribers); otherwise the configured audience applies."""
    named = case.data.get("notify") if isinstance(case.data, dict) else None
    if isinstance(named, list) and named and all(isinstance(p, str) for p in named):
        return [person_spec(person) for person in named]
    return None


def _produce(
    session: Session,
    company: Company,
    kind: str,
    case: CaseLike,
    scope: Scope,
    *,
    key: str,
    now: datetime,
    build: Build,
    department: str | None = None,
    level: int = 0,
    audience: list[str] | None = None,
) -> None:
    """Resolve the audience now, then one context per recipient (in their language and time
    zone) and one row per channel. ``key`` names the cause for the dedupe key. What does not
    depend on the recipient (the case, ``build``'s variables) is built once per language: the
    recipients' contexts share those parts (a context is only ever serialised, never changed)."""
    now = ensure_utc(now)
    specs = audience if audience is not None else notifications_config(company).audience(kind)
    about = department or scope.department or case.performer
    rows = []
    in_language: dict[str, dict[str, Any]] = {}
    for person in resolve(company, specs, scope):
        locale, calendar = _recipient(session, company, person, about)
        shared = in_language.get(locale)
        if shared is None:
            shared = in_language[locale] = {"case": ctx.case_context(company, case, locale), **build(locale)}
        context = {**ctx.base(company, person, locale, calendar.config.tz), **shared}
        rows += message_rows(session, company, kind=kind, recipient=person, context=context, scope=key, now=now,
                             case_id=case.id, level=level, department=about, calendar=calendar)
    enqueue_rows(session, rows)


_RECIPIENTS = "slaflow.notifications.recipients"
"""``Session.info`` key: (the company, {(person, department about): (language, calendar)})."""


def _recipient(session: Session, company: Company, person: str, about: str | None) -> tuple[str, BusinessCalendar]:
    """The language and working calendar of ``person`` for a message about ``about``, looked up in
    the org chart once per session and company object (a sweep group's events reach the same
    heads again and again); another company object (a reloaded config) starts afresh."""
    held: tuple[Company, dict[tuple[str, str | None], tuple[str, BusinessCalendar]]] | None = session.info.get(
        _RECIPIENTS)
    if held is None or held[0] is not company:
        held = session.info[_RECIPIENTS] = (company, {})
    found = held[1].get((person, about))
    if found is None:
        found = held[1][(person, about)] = (locale_of(company, person), calendar_of_person(company, person, about))
    return found


def test_message(session: Session, company: Company, *, person: str, channel: str, now: datetime) -> int:
    """A test message to one person on one channel (``slaflow notify test``); returns its id."""
    now = ensure_utc(now)
    if person not in company.config.people:
        raise UnknownPerson(person)
    locale = locale_of(company, person)
    tz = calendar_of_person(company, person).config.tz
    context = {**ctx.base(company, person, locale, tz), "channel": channel, "sent_at": now.isoformat()}
    scope = f"test={now.isoformat()}"
    enqueue(session, message_rows(session, company, kind="test", recipient=person, context=context, scope=scope,
                                  now=now, channels=[channel]))
    message_id = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key("test", scope, 0, person, channel))
    )
    assert message_id is not None
    return message_id


def _hold_notice(session: Session, company: Company, hold: ev.HoldStarted) -> None:
    """With ``hold_notice_minutes`` set, a hold gets a notice timer that many business minutes
    before it releases itself; when it fires, the engine says `ev.HoldExpiring`."""
    notice = notifications_config(company).hold_notice_minutes
    if notice is not None:
        schedule_notice(session, company, hold, lead_minutes=notice)


def _opened(session: Session, company: Company, event: ev.CaseOpened) -> None:
    case_opened(session, company, event.case, now=event.now)


def _entered(session: Session, company: Company, event: ev.StepEntered) -> None:
    case_moved(session, company, event.case, now=event.now, source=event.source)


def _resolved(session: Session, company: Company, event: ev.CaseResolved) -> None:
    case_resolved(session, company, event.case, now=event.now, source=event.source)


def _assigned(session: Session, company: Company, event: ev.CaseAssigned) -> None:
    case_assigned(session, company, event.case, person=event.person, now=event.now)


def _mentioned(session: Session, company: Company, event: ev.Mentioned) -> None:
    mentioned(session, company, event.case, author=event.author, people=event.people, text=event.text, now=event.now)


def _warned(session: Session, company: Company, event: ev.StepWarned) -> None:
    step_warning(session, company, event.case, event.clock, now=event.now)


def _breached(session: Session, company: Company, event: ev.StepBreached) -> None:
    step_breached(session, company, event.case, event.clock, event.breach, now=event.now)


def _escalated(session: Session, company: Company, event: ev.Escalated) -> None:
    escalated(session, company, event.case, event.clock, level=event.level, audience=event.audience, now=event.now)


def _expiring(session: Session, company: Company, event: ev.HoldExpiring) -> None:
    hold_expiring(session, company, event.case, expires_at=event.expires_at, now=event.now)


def subscribe() -> None:
    """Listen to the engine's events (``runtime.wiring`` calls this; idempotent)."""
    ev.subscribe(ev.CaseOpened, _opened)
    ev.subscribe(ev.StepEntered, _entered)
    ev.subscribe(ev.CaseResolved, _resolved)
    ev.subscribe(ev.CaseAssigned, _assigned)
    ev.subscribe(ev.Mentioned, _mentioned)
    ev.subscribe(ev.StepWarned, _warned)
    ev.subscribe(ev.StepBreached, _breached)
    ev.subscribe(ev.Escalated, _escalated)
    ev.subscribe(ev.HoldStarted, _hold_notice)
    ev.subscribe(ev.HoldExpiring, _expiring)
