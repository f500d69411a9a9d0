"""Recurring information duties: the ``duties:`` config, when each falls due, the ``duty`` case
opened for every occurrence, and how fresh the information has been.

A duty says that one department owes another a piece of information on a schedule (accounting
tells sales the customer payments every working day by 10:00). Each occurrence becomes a case
of the built-in ``duty`` type, specialised for the duty (owner, requester, deadline, payload;
see `state_machines.duty`), so its deadline, warning, breach, escalation and reports are the
engine's ordinary ones.

``runtime.company`` imports `DutyConfig` from here, so this module imports the engine
(``engine.cases``, ``runtime.company``) only inside functions.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.errors import DuplicateCase, SlaflowError
from duties.figures import FiguresConfig, checked_delivery
from notifications.config import AUDIENCE_WORDS
from sla.calendar import NO_WORK_HORIZON_YEARS, BusinessCalendar
from state_machines import duty as duty_type
from state_machines.schema import CaseTypeDef
from state_machines.values import BusinessMinutes, Identifier, Label
from storage.models import Breach, Case, SlaClock

if TYPE_CHECKING:
    from engine.records import CaseRecord
    from org.chart import Actor, Company, OrgConfig

SOURCE = "duty"
"""``external_source`` of duty cases; the key is ``<duty name>:<occurrence ISO>``."""

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_AUDIENCE = re.compile(r"^(?:" + "|".join(AUDIENCE_WORDS) + r"|(?:person|head|department):[A-Za-z0-9_.\-]+)$")


def _local_time(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'got the number {value}, not a time: quote times in YAML, e.g. "10:00"')
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"{value!r} is not a local time in HH:MM format (00:00 to 23:59)")
    return value


LocalTime = Annotated[str, BeforeValidator(_local_time)]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CronSchedule(_Strict):
    """A five-field cron expression read in an explicit time zone (``0 9 * * 1`` = Mondays 09:00)."""

    cron: str
    tz: str
    calendar: str | None = None
    """Optional calendar name: occurrences on its days off (its local date) are skipped."""

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r}: write a five-field cron expression (minute hour day month weekday)")
        try:
            CronSim(value, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
        return value

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as 'Europe/Moscow'") from None
        return value


class WorkingDaysSchedule(_Strict):
    """Every working day of a calendar (holidays and transfers included), at a local time or,
    without ``at``, when work starts that day."""

    working_days: str
    """A calendar name from ``calendars:``."""
    at: LocalTime | None = None


class DeadlineConfig(_Strict):
    """When an occurrence must be met: business time after it falls due, in the owing
    department's calendar, or a fixed local time there (on the first working day that has it
    still ahead)."""

    business: BusinessMinutes | None = None
    at: LocalTime | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DeadlineConfig:
        if (self.business is None) == (self.at is None):
            raise ValueError("give exactly one of 'business' (e.g. '2h') or 'at' (e.g. '10:00')")
        if self.business is not None and self.business <= 0:
            raise ValueError("a business-time deadline must be more than zero")
        return self


class DutyConfig(_Strict):
    """One recurring duty of the ``duties:`` list."""

    name: Identifier
    label: Label
    department: str
    """The department that owes the information (it owns the ``due`` step)."""
    role: str | None = None
    """Role inside that department that holds the step (default: anyone in it)."""
    requester: str
    """The department that depends on the information (its head may waive an occurrence)."""
    schedule: CronSchedule | WorkingDaysSchedule
    deadline: DeadlineConfig
    warn_at: float = Field(0.75, gt=0, lt=1)
    notify: list[str] = []
    """Who is told, as notification audiences: ``requester``, ``head:sales``, ``person:ivanov``..."""
    requires: list[Identifier] = []
    """Payload fields ``deliver`` needs, e.g. ``link`` (an attachment) or ``figures``."""
    figures: FiguresConfig | None = None
    """Structured figures a delivery must carry, checked against this schema (duties.figures)."""

    @field_validator("notify")
    @classmethod
    def _check_notify(cls, value: list[str]) -> list[str]:
        for spec in value:
            if not _AUDIENCE.match(spec):
                raise ValueError(
                    f"{spec!r} is not an audience; use {', '.join(AUDIENCE_WORDS)}, person:<id>, head:<department> "
                    "or department:<department>"
                )
        return value


def duty_problems(config: OrgConfig, duties: Sequence[DutyConfig]) -> list[str]:
    """Cross-references of the ``duties:`` list against the rest of the config (for
    ``runtime.company.CompanyConfig``), each as ``duties[i].field: problem``."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, duty in enumerate(duties):
        where = f"duties[{index}]"
        if duty.name in seen:
            problems.append(f"{where}.name: {duty.name!r} is used by an earlier duty")
        seen.add(duty.name)
        for attr in ("department", "requester"):
            if getattr(duty, attr) not in config.departments:
                problems.append(f"{where}.{attr}: {getattr(duty, attr)!r} is not in departments")
        schedule = duty.schedule
        calendar, field = (
            (schedule.working_days, "working_days")
            if isinstance(schedule, WorkingDaysSchedule)
            else (schedule.calendar, "calendar")
        )
        if calendar is not None and calendar not in config.calendars:
            problems.append(f"{where}.schedule.{field}: {calendar!r} is not in calendars")
        dept = config.departments.get(duty.department)
        if dept is not None and duty.role not in (None, "head") and not any(duty.role in m.roles for m in dept.members):
            problems.append(f"{where}.role: nobody in {duty.department!r} has the role {duty.role!r}")
        for spec in duty.notify:
            word, _, arg = spec.partition(":")
            known = config.people if word == "person" else config.departments
            if arg and arg not in known:
                problems.append(f"{where}.notify: {spec!r} names nobody in the company config")
    return problems


def duties_of(company: Company) -> list[DutyConfig]:
    """The company's ``duties:`` section (empty when the composed config has none)."""
    return list(company.part("duties", list) or [])


# --------------------------------------------------------------------------- scheduling (pure)


def occurrences(duty: DutyConfig, company: Company, start: datetime, end: datetime) -> list[datetime]:
    """The instants (UTC) in ``(start, end]`` at which the duty falls due."""
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        return []
    schedule = duty.schedule
    if isinstance(schedule, CronSchedule):
        found = []
        days_of = company.calendars[schedule.calendar] if schedule.calendar is not None else None
        for moment in CronSim(schedule.cron, start.astimezone(ZoneInfo(schedule.tz))):
            instant = moment.astimezone(UTC)
            if instant > end:
                break
            if days_of is None or days_of.day_hours(instant.astimezone(days_of.tz).date()):
                found.append(instant)
        return found
    calendar = company.calendars[schedule.working_days]
    day, last = start.astimezone(calendar.tz).date(), end.astimezone(calendar.tz).date()
    found = []
    while day <= last:
        hours = calendar.day_hours(day)
        if hours:
            minute = _minutes(schedule.at) if schedule.at is not None else hours[0][0]
            instant = _local(calendar, day, minute)
            if start < instant <= end:
                found.append(instant)
        day += timedelta(days=1)
    return found


def deadline_minutes(duty: DutyConfig, company: Company, occurrence: datetime) -> float:
    """The occurrence's target in the owing department's business minutes."""
    if duty.deadline.business is not None:
        return duty.deadline.business
    assert duty.deadline.at is not None
    calendar = company.calendar_of(duty.department)
    minute = _minutes(duty.deadline.at)
    day = occurrence.astimezone(calendar.tz).date()
    for _ in range(366 * NO_WORK_HORIZON_YEARS):
        if calendar.day_hours(day):
            candidate = _local(calendar, day, minute)
            if candidate > occurrence:
                return round(calendar.business_minutes_between(occurrence, candidate), 3)
        day += timedelta(days=1)
    raise SlaflowError(f"duty {duty.name!r}: no working day with {duty.deadline.at} ahead of {occurrence:%Y-%m-%d}")


def occurrence_definition(duty: DutyConfig, target: float) -> CaseTypeDef:
    """The ``duty`` case type specialised for this duty and one occurrence's target. Cached:
    the engine's machine cache keeps every definition object it sees, so equal ones must be
    the same object."""
    return _occurrence_definition(duty.model_dump_json(), target)


@lru_cache(maxsize=256)
def _occurrence_definition(duty_json: str, target: float) -> CaseTypeDef:
    duty = DutyConfig.model_validate_json(duty_json)
    return duty_type.duty_definition(
        requester=duty.requester,
        performer=duty.department,
        role=duty.role,
        target=target,
        warn_at=duty.warn_at,
        requires=duty.requires,
        label=duty.label,
    )


def external_key(duty: DutyConfig, occurrence: datetime) -> str:
    return f"{duty.name}:{ensure_utc(occurrence).isoformat()}"


def _local(calendar: BusinessCalendar, day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=calendar.tz).astimezone(UTC)


# --------------------------------------------------------------------------- opening and meeting


def open_due_duties(
    session: Session,
    company: Company,
    *,
    now: datetime,
    since: datetime,
    duties: Sequence[DutyConfig] | None = None,
) -> list[int]:
    """Open one ``duty`` case per occurrence in ``(since, now]`` that has none yet; return the
    new case ids. Safe to repeat and to run concurrently (the external key is unique).

    Each case is opened *as of its occurrence*, so a late run does not move the deadline; pass
    the previous run's ``now`` as ``since`` (a first run over a long past window opens occurrences
    that are already overdue)."""
    from engine.cases import open_case
    from org.chart import Actor

    now, since = ensure_utc(now), ensure_utc(since)
    due = sorted(
        (
            (moment, duty)
            for duty in (duties if duties is not None else duties_of(company))
            for moment in occurrences(duty, company, since, now)
        ),
        key=lambda pair: (pair[0], pair[1].name),
    )
    existing = _existing_keys(session, [external_key(duty, moment) for moment, duty in due])
    actor = Actor.system("duties")
    opened: list[int] = []
    for moment, duty in due:
        key = external_key(duty, moment)
        if key in existing:
            continue
        target = deadline_minutes(duty, company, moment)
        view = _with_definition(company, occurrence_definition(duty, target))
        calendar = company.calendar_of(duty.department)
        data = {
            "duty": duty.name,
            "occurrence": moment.isoformat(),
            "deadline_at": calendar.add_business_minutes(moment, target).isoformat(),
            "deadline_minutes": target,
            "notify": _notify(company, duty),
        }
        try:
            record = open_case(
                session,
                view,
                case_type=duty_type.NAME,
                data=data,
                actor=actor,
                now=moment,
                source="schedule",
                external_source=SOURCE,
                external_key=key,
            )
        except DuplicateCase:
            continue  # another run opened it between our check and our insert
        opened.append(record.id)
    return opened


def deliver_duty(
    session: Session,
    company: Company,
    *,
    duty: str,
    actor: Actor,
    now: datetime,
    payload: dict[str, Any] | None = None,
    source: str = "api",
) -> CaseRecord:
    """Meet the oldest open occurrence of ``duty`` (what the CLI, the API or a webhook call when
    they know the duty but not the case id)."""
    from engine.cases import fire

    now = ensure_utc(now)
    case_id = session.scalar(
        select(Case.id)
        .where(
            Case.case_type == duty_type.NAME,
            Case.external_source == SOURCE,
            Case.external_key.startswith(f"{duty}:", autoescape=True),
            Case.closed_at.is_(None),
            Case.opened_at <= now,
        )
        .order_by(Case.opened_at, Case.id)
        .limit(1)
    )
    if case_id is None:
        raise SlaflowError(f"duty {duty!r} has no open occurrence to deliver")
    return fire(
        session,
        company,
        case_id=case_id,
        trigger=duty_type.DELIVER,
        actor=actor,
        now=now,
        payload=payload,
        source=source,
    )


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in range(0, len(keys), 500):
        found.update(
            session.scalars(
                select(Case.external_key).where(
                    Case.external_source == SOURCE, Case.external_key.in_(keys[chunk : chunk + 500])
                )
            ).all()  # type: ignore[arg-type]
        )
    return found


def _with_definition(company: Company, definition: CaseTypeDef) -> Company:
    """The company as the engine should see it while opening one occurrence: ``duty`` is this
    duty's specialisation. The engine stores that definition with the case, so later triggers
    use it again. Calendars (and their computed years) are shared, not rebuilt."""
    view = dataclasses.replace(company, case_types={**company.case_types, duty_type.NAME: definition})
    view.__dict__["calendars"] = company.calendars  # functools.cached_property's slot
    return view


def company_for_occurrence(company: Company, data: dict[str, Any]) -> Company:
    """The company as the engine saw it when it opened a duty occurrence (``data`` is the case's
    opening data), with ``company``'s duties and calendars: how `sla what-if` replays a duty
    case under a changed configuration (its target is recomputed from the changed duty)."""
    name, occurrence = data.get("duty"), data.get("occurrence")
    duty = next((d for d in duties_of(company) if d.name == name), None)
    if duty is None or not isinstance(occurrence, str):
        raise SlaflowError(f"duty {name!r} is not in this configuration")
    moment = ensure_utc(datetime.fromisoformat(occurrence))
    return _with_definition(company, occurrence_definition(duty, deadline_minutes(duty, company, moment)))


def checked_payload(company: Company, data: dict[str, Any], payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A delivery's payload checked against its duty's figures schema (unchanged for a duty
    without one, or one no longer in the configuration)."""
    duty = next((d for d in duties_of(company) if d.name == data.get("duty")), None)
    if duty is None or duty.figures is None:
        return payload
    return checked_delivery(duty.figures, payload, now=now, calendar=company.calendar_of(duty.department))


def _notify(company: Company, duty: DutyConfig) -> list[str]:
    from org.audience import Scope, resolve

    scope = Scope(duty.department, duty.role, requester=duty.requester, performer=duty.department)
    return resolve(company, duty.notify, scope)


# --------------------------------------------------------------------------- freshness


@dataclasses.dataclass(frozen=True)
class DutyFreshness:
    """How reliably one duty's information arrived in a window."""

    duty: str
    department: str
    occurrences: int
    delivered: int
    on_time: int
    late: int
    """Delivered after the deadline, or still open past it."""
    waived: int
    pending: int
    """Open, deadline still ahead."""
    on_time_rate: float | None
    """``on_time / (delivered + open overdue)``; waived and pending occurrences are not judged."""
    median_late_minutes: float | None
    """Among the late ones, in the owing department's business minutes (open ones: so far)."""
    worst_late_minutes: float | None
    current_state: str | None
    """State of the latest occurrence: ``due``, ``overdue``, ``delivered`` or ``waived``."""
    latest_occurrence: datetime | None
    delivered_today: bool
    """The latest occurrence was delivered today (the owing department's local date)."""


def freshness(
    session: Session,
    company: Company,
    *,
    now: datetime,
    since: datetime,
    duties: Sequence[DutyConfig] | None = None,
) -> list[DutyFreshness]:
    """Per duty (and owing department), for occurrences in ``(since, now]``: on-time rate, median
    and worst lateness, and the state of the latest occurrence."""
    now, since = ensure_utc(now), ensure_utc(since)
    counts = _counts(session, now=now, since=since)
    lateness = _lateness(session, company, now=now, since=since)
    latest = _latest(session, since=since, now=now)
    names = {(d.name, d.department) for d in (duties if duties is not None else duties_of(company))} | set(counts)
    rows = []
    for name, department in sorted(names, key=lambda key: (key[1], key[0])):
        c = counts.get((name, department), {})
        late = lateness.get((name, department), [])
        judged = c.get("delivered", 0) + c.get("overdue", 0)
        state, opened_at, closed_at = latest.get((name, department), (None, None, None))
        tz = company.calendar_of(department).tz if department in company.config.departments else UTC
        rows.append(
            DutyFreshness(
                duty=name,
                department=department,
                occurrences=c.get("occurrences", 0),
                delivered=c.get("delivered", 0),
                on_time=c.get("on_time", 0),
                late=len(late),
                waived=c.get("waived", 0),
                pending=c.get("occurrences", 0) - c.get("delivered", 0) - c.get("waived", 0) - c.get("overdue", 0),
                on_time_rate=c["on_time"] / judged if judged else None,
                median_late_minutes=statistics.median(late) if late else None,
                worst_late_minutes=max(late) if late else None,
                current_state=state,
                latest_occurrence=opened_at,
                delivered_today=state == duty_type.DELIVERED
                and closed_at is not None
                and closed_at.astimezone(tz).date() == now.astimezone(tz).date(),
            )
        )
    return rows


def _window(since: datetime, now: datetime) -> Any:
    return and_(Case.case_type == duty_type.NAME, Case.opened_at > since, Case.opened_at <= now)


def _counts(session: Session, *, now: datetime, since: datetime) -> dict[tuple[str, str], dict[str, int]]:
    """Counts per (duty, department), aggregated by the database. The duty name is selected in
    a subquery first: grouping by a JSON expression would repeat its bound key, which PostgreSQL
    does not recognise as the same expression."""
    step = (
        select(
            Case.data["duty"].as_string().label("duty"),
            Case.performer.label("department"),
            Case.state.label("state"),
            Case.closed_at.label("closed_at"),
            SlaClock.status.label("status"),
            SlaClock.deadline_at.label("deadline_at"),
        )
        .join(SlaClock, and_(SlaClock.case_id == Case.id, SlaClock.kind == "step"))
        .where(_window(since, now))
        .subquery()
    )
    delivered = step.c.state == duty_type.DELIVERED
    overdue = and_(step.c.closed_at.is_(None), step.c.deadline_at < now)
    query = select(
        step.c.duty,
        step.c.department,
        func.count().label("occurrences"),
        func.sum(when((delivered, 1), else_=0)).label("delivered"),
        func.sum(when((and_(delivered, step.c.status == "met"), 1), else_=0)).label("on_time"),
        func.sum(when((step.c.state == duty_type.WAIVED, 1), else_=0)).label("waived"),
        func.sum(when((overdue, 1), else_=0)).label("overdue"),
    ).group_by(step.c.duty, step.c.department)
    return {
        (row.duty, row.department): {
            key: int(value or 0) for key, value in row._mapping.items() if key not in ("duty", "department")
        }
        for row in session.execute(query)
    }


def _lateness(
    session: Session, company: Company, *, now: datetime, since: datetime
) -> dict[tuple[str, str], list[float]]:
    """Business minutes late of each late occurrence that was not waived: delivered after its
    deadline (the breach's figure) or still open past it (late so far, swept or not)."""
    query = (
        select(
            Case.data["duty"].as_string().label("duty"),
            Case.performer,
            SlaClock.calendar,
            SlaClock.deadline_at,
            SlaClock.stopped_at,
            Breach.late_minutes,
        )
        .join(SlaClock, and_(SlaClock.case_id == Case.id, SlaClock.kind == "step"))
        .outerjoin(Breach, Breach.clock_id == SlaClock.id)
        .where(
            _window(since, now),
            Case.state != duty_type.WAIVED,
            or_(SlaClock.status == "breached", and_(SlaClock.stopped_at.is_(None), SlaClock.deadline_at < now)),
        )
        .order_by(Case.opened_at, Case.id)
    )
    found: dict[tuple[str, str], list[float]] = {}
    for row in session.execute(query):
        late = row.late_minutes
        if late is None:
            calendar = _calendar(company, row.calendar, row.performer)
            late = calendar.business_minutes_between(row.deadline_at, row.stopped_at or now)
        found.setdefault((row.duty, row.performer), []).append(float(late))
    return found


def _latest(
    session: Session, *, since: datetime, now: datetime
) -> dict[tuple[str, str], tuple[str, datetime, datetime | None]]:
    """The state of each duty's latest occurrence (``overdue`` if due and past its deadline)."""
    query = (
        select(
            Case.data["duty"].as_string().label("duty"),
            Case.performer,
            Case.state,
            Case.opened_at,
            Case.closed_at,
            Case.due_at,
        )
        .where(_window(since, now))
        .order_by(Case.opened_at, Case.id)
    )
    found: dict[tuple[str, str], tuple[str, datetime, datetime | None]] = {}
    for row in session.execute(query):
        state = row.state
        if state == duty_type.DUE and row.due_at is not None and row.due_at < now:
            state = "overdue"
        found[(row.duty, row.performer)] = (state, row.opened_at, row.closed_at)  # later rows win
    return found


def _calendar(company: Company, name: str, department: str) -> BusinessCalendar:
    return company.calendars.get(name) or company.calendar_of(department)
