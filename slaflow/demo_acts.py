"""One step of the demo's script, done as the person would (open, move, deliver, acknowledge), and
what it prints; a refused move prints the error."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import SlaflowError
from duties.opening import deliver_duty
from engine import cases
from engine.records import CaseRecord
from org.chart import Company
from sla.model import ClockKind, ClockStatus
from slaflow.demo_script import Step, local
from storage.models import SlaClock


def act(
    factory: sessionmaker[Session],
    company: Company,
    clock: SimulatedClock,
    step: Step,
    ids: dict[str, int],
    console: Console,
    totals: dict[str, int],
) -> None:
    now = clock.now()
    actor = company.actor(step.actor)
    who = company.person_name(step.actor)
    try:
        with factory.begin() as session:
            if step.trigger.startswith("open:"):
                case = cases.open_case(
                    session,
                    company,
                    case_type=step.trigger.split(":", 1)[1],
                    data=step.data,
                    actor=actor,
                    now=now,
                    source="demo",
                )
                ids[step.case] = case.id
                totals["opened"] += 1
                console.print(
                    f"{local(now)}  [green]OPEN[/]    #{case.id} {case.case_type} by {who} -> "
                    f"{case.state} ({_owner(company, case)}, due {local(case.due_at)})",
                    soft_wrap=True,
                )
                return
            if step.trigger.startswith("deliver:"):
                record = deliver_duty(
                    session,
                    company,
                    duty=step.trigger.split(":", 1)[1],
                    actor=actor,
                    now=now,
                    payload=step.data,
                    source="demo",
                )
                status = session.scalar(
                    select(SlaClock.status).where(SlaClock.case_id == record.id, SlaClock.kind == ClockKind.STEP)
                )
                verdict = "[green]on time[/]" if status == ClockStatus.MET else "[bold red]late[/]"
                console.print(
                    f"{local(now)}  [blue]DELIVER[/] #{record.id} {record.data['duty']} by {who}: {verdict}",
                    soft_wrap=True,
                )
                totals["duties_met" if status == ClockStatus.MET else "duties_late"] += 1
                return
            if step.trigger == "acknowledge":
                record = cases.acknowledge(
                    session, company, case_id=ids[step.case], actor=actor, now=now, source="demo"
                )
                console.print(
                    f"{local(now)}  [cyan]ACK[/]     #{record.id} {record.case_type}: {who} acknowledged "
                    "the escalation; no further levels for this step",
                    soft_wrap=True,
                )
                return
            before_case = cases.get_case(session, ids[step.case])
            before = before_case.state
            definition = cases.definition_of(session, company, before_case)
            case = cases.fire(
                session,
                company,
                case_id=ids[step.case],
                trigger=step.trigger,
                actor=actor,
                payload=step.data,
                now=now,
                source="demo",
            )
            totals["moved"] += 1
            due = f", due {local(case.due_at)}" if case.due_at else ""
            entering, leaving = definition.states[case.state], definition.states[before]
            if entering.on_behalf_of == before and leaving.department and entering.department:
                due += (
                    f"; {company.department_name(leaving.department)}'s clock pauses while it waits on "
                    f"{company.department_name(entering.department)}"
                )
            elif leaving.on_behalf_of == case.state and entering.department:
                due += f"; {company.department_name(entering.department)}'s clock resumes with the time it had left"
            console.print(
                f"{local(now)}  [blue]MOVE[/]    #{case.id} {case.case_type}: {step.trigger} by {who}: "
                f"{before} -> {case.state} ({_owner(company, case)}{due})",
                soft_wrap=True,
            )
    except SlaflowError as exc:
        totals["rejected"] += 1
        console.print(f"{local(now)}  [magenta]REFUSED[/] {who}: {exc}", highlight=False, soft_wrap=True)


def _owner(company: Company, case: CaseRecord) -> str:
    if case.owner_department is None:
        return "closed"
    role = f", {company.role_name(case.owner_role)}" if case.owner_role else ""
    return company.department_name(case.owner_department) + role


