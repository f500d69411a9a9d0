"""The ``duty`` case opened for every occurrence of a duty, and its delivery.

Each occurrence becomes a case of the built-in ``duty`` type, specialised for the duty (owner,
requester, deadline, payload; see `duties.schedule.occurrence_definition`), so its deadline,
warning, breach, escalation and reports are the engine's ordinary ones. `DutyCaseHooks` is what
the engine asks of a duty case (a delivery's figures; the definition a replay runs under); the
composition root registers it (``runtime.wiring``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.errors import DuplicateCase, SlaflowError
from duties.config import SOURCE, DutyConfig, duties_of
from duties.figures import checked_delivery
from duties.schedule import deadline_minutes, external_key, occurrence_definition, occurrences
from engine.cases import fire, open_case
from engine.records import CaseRecord
from org.audience import Scope, resolve
from org.chart import Actor, Company
from state_machines import duty as duty_type
from storage.models import Case


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
        # The engine stores this specialised definition with the case; later triggers use it again.
        view = company.with_versions(case_types={duty_type.NAME: occurrence_definition(duty, target)})
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


@dataclass(frozen=True)
class DutyCaseHooks:
    """What the engine asks of a ``duty`` case (`engine.case_hooks.CaseTypeHooks`)."""

    def checked_payload(
        self, company: Company, data: Mapping[str, Any], trigger: str, payload: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """A delivery's payload checked against its duty's figures schema (unchanged for a duty
        without one, or one no longer in the configuration, and for other triggers)."""
        duty = next((d for d in duties_of(company) if d.name == data.get("duty")), None)
        if trigger != duty_type.DELIVER or duty is None or duty.figures is None:
            return payload
        return checked_delivery(duty.figures, payload, now=now, calendar=company.calendar_of(duty.department))

    def replay_company(self, changed: Company, data: Mapping[str, Any]) -> Company:
        """The company as the engine saw it when it opened a duty occurrence (``data`` is the
        case's opening data), with ``changed``'s duties and calendars: how `sla what-if` replays
        a duty case under a changed configuration (its target is recomputed from the changed
        duty; the case type ``duty`` alone is only the template)."""
        name, occurrence = data.get("duty"), data.get("occurrence")
        duty = next((d for d in duties_of(changed) if d.name == name), None)
        if duty is None or not isinstance(occurrence, str):
            raise SlaflowError(f"duty {name!r} is not in this configuration")
        moment = ensure_utc(datetime.fromisoformat(occurrence))
        definition = occurrence_definition(duty, deadline_minutes(duty, changed, moment))
        return changed.with_versions(case_types={duty_type.NAME: definition})


def _notify(company: Company, duty: DutyConfig) -> list[str]:
    scope = Scope(duty.department, duty.role, requester=duty.requester, performer=duty.department)
    return resolve(company, duty.notify, scope)
