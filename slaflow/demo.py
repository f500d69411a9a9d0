"""`slaflow demo`: a simulated working week at the example company.

Opens a case of every type, moves them as people would (some late), lets the sweeper fire
warnings, breaches and automatic transitions, shows the errors a wrong move gets, and ends with
the per-department SLA summary. Time is simulated: nothing waits for a real deadline.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from core.clock import SimulatedClock
from core.errors import SlaflowError
from duties.service import deliver_duty, duties_of, freshness, occurrences, open_due_duties
from engine import cases
from engine.records import CaseRecord
from engine.timers import sweep
from flows._support import OFFLINE_ENV
from leads.report import lead_departments
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from org.chart import Company
from reports.ledger import late_cases
from reports.render import write_report
from reports.scope import Scope
from reports.steps import department_figures
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from slaflow.demo_leads import run_lead_week
from state_machines.values import label_text
from storage.db import make_engine, migrate, session_factory
from storage.models import Case, OutboxMessage, SlaClock, Timer

MSK = ZoneInfo("Europe/Moscow")
WEEK_START = datetime(2026, 11, 16, tzinfo=MSK)  # a Monday with no Russian holidays that week
DAYS = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4}


@dataclass(frozen=True)
class Step:
    when: str
    """Moscow time, e.g. ``"Tue 09:30"``."""
    actor: str
    case: str
    """Demo label of the case (``R1`` ...)."""
    trigger: str
    """A trigger name, or ``open:<case type>``."""
    data: dict[str, Any]


SCRIPT: list[Step] = [
    Step(
        "Mon 09:30",
        "ivanov",
        "R1",
        "open:return",
        {"customer": "ООО Ромашка", "order": "SO-1041", "reason": "damaged packaging", "customer_unreliable": True},
    ),
    Step(
        "Mon 10:00",
        "petrova",
        "D1",
        "open:rush_delivery",
        {"customer": "ИП Сидоренко", "order": "SO-1042", "deliver_by": "2026-11-17", "reason": "new key account"},
    ),
    Step(
        "Mon 10:15",
        "ivanov",
        "V1",
        "open:reservation",
        {"customer": "ТД Восток", "deal": "DL-77", "items": "40 pallets of tiles"},
    ),
    Step(
        "Mon 11:00", "petrova", "L1", "open:lead_dispute", {"lead_id": "LD-5531", "reason": "a student, not a company"}
    ),
    Step("Mon 11:20", "kozlov", "D1", "confirm_slot", {"slot": "Tue 10:00"}),
    Step(
        "Mon 11:30",
        "ivanov",
        "P1",
        "open:replacement",
        {"customer": "ООО Вега", "order": "SO-1007", "product": "mixer M-200", "complaint": "motor stops"},
    ),
    Step(
        "Mon 12:00",
        "petrova",
        "E1",
        "open:picking_error",
        {"customer": "ООО Лира", "order": "SO-1033", "complaint": "2 boxes of grout missing"},
    ),
    Step(
        "Mon 12:30",
        "ivanov",
        "A1",
        "open:price_approval",
        {"customer": "ТД Восток", "deal": "DL-77", "discount_pct": 12},
    ),
    Step("Mon 13:00", "kuznetsova", "V1", "approve", {}),
    Step("Mon 13:30", "volkova", "D1", "picked", {"pick_list": "PL-553"}),
    Step("Mon 14:00", "nowak", "P1", "confirm_defect", {"cause": "faulty motor batch"}),
    Step("Mon 14:30", "volkova", "E1", "confirm_error", {"missing_items": "grout x2"}),
    Step("Mon 15:00", "morozova", "A1", "margin_ok", {"margin_pct": 18}),
    Step("Mon 16:00", "sidorov", "L1", "reject", {"justification": "the company domain was verified"}),
    Step("Mon 16:30", "popov", "V1", "reserved", {"reservation_doc": "RSV-901"}),
    Step("Tue 09:30", "popov", "R1", "approve", {"inspection_notes": "packaging damaged in transit"}),
    Step("Tue 10:00", "orlov", "A1", "approve", {}),
    Step("Tue 10:30", "popov", "P1", "out_of_stock", {}),
    Step("Tue 11:00", "kozlov", "D1", "delivered", {"waybill": "WB-7781"}),
    Step("Tue 12:00", "petrova", "D1", "confirmed", {}),
    # Three wrong moves, to show the errors: wrong department, missing field, wrong state.
    Step("Tue 12:30", "ivanov", "R1", "collected", {"waybill": "WB-0000"}),
    Step("Tue 12:35", "kozlov", "R1", "collected", {}),
    Step("Tue 12:40", "morozova", "R1", "refunded", {"document": "CN-311"}),
    Step("Wed 15:00", "kozlov", "R1", "collected", {"waybill": "WB-7790"}),
    Step("Wed 15:00", "orlov", "L1", "rule_for_sales", {"decision": "a private person is not a lead"}),
    Step("Thu 10:00", "lebedev", "E1", "acknowledge", {}),
    Step("Thu 11:00", "egorov", "P1", "supplied", {"supply_doc": "PO-4410"}),
    Step("Thu 12:00", "morozova", "R1", "refunded", {"document": "CN-311"}),
    Step("Fri 10:00", "popov", "P1", "picked", {"pick_list": "PL-560"}),
]
# Recurring information duties: delivered on time mostly; Wednesday's confirmation of deliveries
# and Thursday's payments come late, and the warehouse sends no stock figures on Thursday or Friday.
DUTY_STEPS: list[Step] = [
    *(
        Step(f"{day} 08:40", "popov", "-", "deliver:stock_on_hand", {"figures": {"tiles": 1200, "grout": 40}})
        for day in ("Mon", "Tue", "Wed")
    ),
    *(
        Step(
            f"{day} {hhmm}", "kozlov", "-", "deliver:deliveries_confirmed", {"figures": {"delivered": 14, "failed": 1}}
        )
        for day, hhmm in (("Mon", "08:45"), ("Tue", "08:50"), ("Wed", "10:30"), ("Thu", "08:50"), ("Fri", "08:40"))
    ),
    *(
        Step(f"{day} {hhmm}", "morozova", "-", "deliver:customer_payments", {"link": "https://bank.example/stmt"})
        for day, hhmm in (("Mon", "09:40"), ("Tue", "09:50"), ("Wed", "09:45"), ("Thu", "10:40"), ("Fri", "09:30"))
    ),
    Step("Mon 11:30", "egorov", "-", "deliver:supply_forecast", {"link": "https://erp.example/forecast"}),
]
START = "Mon 08:00"
END = "Fri 18:00"
SWEEP_EVERY = timedelta(minutes=30)


def at(label: str) -> datetime:
    day, hhmm = label.split()
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine((WEEK_START + timedelta(days=DAYS[day])).date(), time(hours, minutes), tzinfo=MSK)


def run_demo(*, out: Path, config: Path | None, console: Console, prefect: bool = True) -> dict[str, int]:
    """Run the week; return counts (used by the test of the demo). Everything it writes goes
    under ``out``: the database, the messages people would receive (instead of being sent), the
    report and a plain-text transcript of what it printed. With ``prefect`` every sweep that has
    timers due is a run of the ``sweep-timers`` Prefect flow (in Prefect's local ephemeral mode);
    without it the same service is called directly."""
    config_file = (config or EXAMPLE_COMPANY).resolve()
    company = load_company(config_file)
    previous_config = os.environ.get("SLAFLOW_CONFIG")
    os.environ["SLAFLOW_CONFIG"] = str(config_file)  # the flow runs read the company from here
    out.mkdir(parents=True, exist_ok=True)
    database = out / "demo.db"
    transcript = out / "demo-transcript.txt"
    console.record = True
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    migrate(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    clock = SimulatedClock(at(START))
    messages_dir = database.parent / f"{database.stem}-messages"
    shutil.rmtree(messages_dir, ignore_errors=True)
    delivery = NotificationSettings(notify_redirect="file", notify_file_dir=messages_dir)
    totals = {
        "opened": 0,
        "moved": 0,
        "rejected": 0,
        "warnings": 0,
        "breaches": 0,
        "auto": 0,
        "messages": 0,
        "flow_runs": 0,
        "duties_met": 0,
        "duties_late": 0,
    }
    sweeper = _prefect_sweeper(url, console) if prefect else _direct_sweeper(factory, company)
    try:
        return _run_week(factory, company, clock, console, sweeper, prefect, url, database, messages_dir, delivery,
                         totals)
    finally:
        engine.dispose()
        if previous_config is None:
            os.environ.pop("SLAFLOW_CONFIG", None)
        else:
            os.environ["SLAFLOW_CONFIG"] = previous_config
        console.save_text(str(transcript))
        console.print(f"transcript: {transcript}", highlight=False)


def _run_week(
    factory: sessionmaker[Session], company: Company, clock: SimulatedClock, console: Console, sweeper: Sweeper,
    prefect: bool, url: str, database: Path, messages_dir: Path, delivery: NotificationSettings,
    totals: dict[str, int],
) -> dict[str, int]:
    ids: dict[str, int] = {}
    duty_opener = _prefect_duties(url) if prefect else _direct_duties(factory, company)
    locale = company.locale
    console.rule(f"[bold]slaflow demo[/] — {label_text(company.config.company.name, locale)}, week of 16 Nov 2026")
    week = sorted([*SCRIPT, *DUTY_STEPS], key=lambda step: at(step.when))  # stable: same-time steps keep order
    duty_opener(at("Mon 00:00"), clock.now())  # what fell due before the demo's first tick
    _print_new_duties(factory, company, at("Mon 00:00"), clock.now(), console)
    for step in [*week, None]:
        target = at(step.when) if step else at(END)
        _sweep_until(factory, company, clock, target, console, totals, sweeper, duty_opener)
        totals["messages"] += dispatch_due(factory, company, now=clock.now(), owner="demo", settings=delivery).sent
        if step is None:
            break
        _act(factory, company, clock, step, ids, console, totals)
    console.print()
    _summary(factory, company, clock.now(), console)
    _whole_case_breaches(factory, company, clock.now(), console)
    _freshness(factory, company, clock.now(), console)
    totals["messages"] += run_lead_week(factory, company, console, url=url, prefect=prefect, delivery=delivery)
    report_dir = database.parent / f"{database.stem}-report"
    with factory() as session:
        written = write_report(
            session,
            company,
            since=at("Mon 00:00"),
            until=clock.now(),
            out_dir=report_dir,
            formats=["html", "csv", "json"],
            locale=company.locale,
            now=clock.now(),
            lead_departments=lead_departments(company),
        )
    if totals["flow_runs"]:
        console.print(
            f"\n{totals['flow_runs']} Prefect flow runs of sweep-timers fired these warnings, breaches, "
            "escalations and releases",
            soft_wrap=True,
        )
    console.print(f"\nSLA report for the week: {written['html']} (also CSV and JSON in {report_dir}/)", soft_wrap=True)
    people = sorted(p.name for p in messages_dir.iterdir()) if messages_dir.exists() else []
    console.print(
        f"\n{totals['messages']} messages to {len(people)} people written to {messages_dir}/ "
        f"(one folder per person; e-mail and chat as they would be sent)"
    )
    console.print(
        f"database: {database} — try: slaflow case show {ids['E1']} --database-url {url} --config {company.source}",
        highlight=False,
    )
    return totals


Sweeper = Callable[[datetime], tuple[Counter[str], str | None]]
"""Fires what is due at an instant; says how many of each kind fired, and by which flow run."""


def _direct_sweeper(factory: sessionmaker[Session], company: Company) -> Sweeper:
    return lambda now: (sweep(factory, company, now=now, owner="demo").fired, None)


PREFECT_STARTUP_SECONDS = 600
"""How long Prefect may take to start its local server (its default, 20 s, is not enough on a
busy 2-core machine); used unless PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS is set."""


def _prefect_sweeper(url: str, console: Console) -> Sweeper:
    """Sweeps as Prefect flow runs, offline, without heartbeats (a sync run would wait ~1 s)."""
    for name, value in {**OFFLINE_ENV, "PREFECT_LOGGING_LEVEL": "WARNING"}.items():
        os.environ.setdefault(name, value)  # before prefect is imported: it reads them then
    from prefect.settings import temporary_settings

    from flows.sweeper import sweep_timers

    console.print(
        "sweeps run as Prefect flow runs of [bold]sweep-timers[/] (Prefect's local ephemeral mode; its server "
        "starts with the first run, which can take a minute on a busy machine); each fired line names its flow run"
    )

    updates = _prefect_settings()

    def run(now: datetime) -> tuple[Counter[str], str | None]:
        try:
            with temporary_settings(updates):
                summary = sweep_timers(at=now, database_url=url)
        except RuntimeError as exc:
            raise _prefect_start_error(exc) from None
        return Counter(summary["fired"]), summary["flow_run"]

    return run


def _prefect_settings() -> dict[Any, Any]:
    """No flow heartbeats (a sync run would wait ~1 s for its thread) and time for the local
    server to start (unless the user set PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    updates: dict[Any, Any] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in os.environ:
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = PREFECT_STARTUP_SECONDS
    return updates


def _prefect_start_error(exc: RuntimeError) -> Exception:
    """Prefect's "Timed out while attempting to connect to ephemeral Prefect API server" as one
    line with the way out; any other error as it is."""
    if "ephemeral Prefect API server" not in str(exc):
        return exc
    limit = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_SECONDS)
    return SlaflowError(
        f"Prefect's local server did not start within {limit} s; run `slaflow demo --no-prefect` "
        "(the same week, swept without Prefect), or allow it longer with "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    )


DutyOpener = Callable[[datetime, datetime], None]
"""Opens the duty occurrences that fell due in (since, now]."""


def _direct_duties(factory: sessionmaker[Session], company: Company) -> DutyOpener:
    def run(since: datetime, now: datetime) -> None:
        with factory.begin() as session:
            open_due_duties(session, company, now=now, since=since)

    return run


def _prefect_duties(url: str) -> DutyOpener:
    from prefect.settings import temporary_settings

    from flows.duties import open_duties

    updates = _prefect_settings()

    def run(since: datetime, now: datetime) -> None:
        minutes = int((now - since).total_seconds() // 60) + 1
        try:
            with temporary_settings(updates):
                open_duties(window_minutes=minutes, at=now, database_url=url)
        except RuntimeError as exc:
            raise _prefect_start_error(exc) from None

    return run


def _sweep_until(
    factory: sessionmaker[Session],
    company: Company,
    clock: SimulatedClock,
    target: datetime,
    console: Console,
    totals: dict[str, int],
    sweeper: Sweeper,
    duty_opener: DutyOpener,
) -> None:
    """Advance time in sweeper-sized steps, firing whatever falls due (as the worker would; a
    tick with nothing due starts no flow run)."""
    while clock.now() < target:
        since, now = clock.now(), min(clock.now() + SWEEP_EVERY, target)
        clock.set(now)
        if any(occurrences(duty, company, since, now) for duty in duties_of(company)):
            duty_opener(since, now)
            _print_new_duties(factory, company, since, now, console)
        with factory() as session:
            due = session.scalar(select(exists().where(Timer.status == "pending", Timer.due_at <= now)))
        if not due:
            continue
        fired, flow_run = sweeper(now)
        totals["flow_runs"] += flow_run is not None
        totals["warnings"] += fired["warning"]
        totals["breaches"] += fired["breach"]
        totals["auto"] += fired["auto"]
        with factory() as session:
            rows = session.execute(
                select(Timer, Case, SlaClock)
                .join(Case, Case.id == Timer.case_id)
                .outerjoin(SlaClock, SlaClock.id == Timer.clock_id)
                .where(Timer.fired_at == now)
                .order_by(Timer.id)
            ).all()
            for timer, case, sla_clock in rows:
                _print_timer(company, timer, case, sla_clock, now, console, flow_run)


def _print_new_duties(
    factory: sessionmaker[Session], company: Company, since: datetime, now: datetime, console: Console
) -> None:
    with factory() as session:
        opened = session.scalars(
            select(Case)
            .where(Case.case_type == "duty", Case.opened_at > since, Case.opened_at <= now)
            .order_by(Case.opened_at, Case.id)
        ).all()
        for case in opened:
            console.print(
                f"{_local(case.opened_at)}  [blue]DUTY[/]    #{case.id} {case.data['duty']}: "
                f"{company.department_name(case.performer)} owes it by {_local(case.due_at)}",
                soft_wrap=True,
            )


def _print_timer(
    company: Company,
    timer: Timer,
    case: Case,
    sla_clock: SlaClock | None,
    now: datetime,
    console: Console,
    flow_run: str | None,
) -> None:
    when = _local(now)
    by = f"  [dim](flow run {flow_run})[/]" if flow_run else ""
    if timer.kind == "auto":
        console.print(
            f"{when}  [cyan]AUTO[/]    #{case.id} {case.case_type}: {timer.trigger} -> {case.state}{by}", soft_wrap=True
        )
        return
    assert sla_clock is not None
    what = f"step {sla_clock.state}" if sla_clock.kind == "step" else "whole case"
    dept = company.department_name(sla_clock.department)
    if timer.kind == "warning":
        console.print(
            f"{when}  [yellow]WARNING[/] #{case.id} {case.case_type} {what}: {dept} has used "
            f"{sla_clock.warn_fraction:.0%} of its time, due {_local(sla_clock.deadline_at)}{by}",
            soft_wrap=True,
        )
    elif timer.kind == "escalation":
        session = object_session(timer)
        assert session is not None
        told = sorted(
            set(
                session.scalars(
                    select(OutboxMessage.recipient).where(
                        OutboxMessage.case_id == case.id,
                        OutboxMessage.kind == "escalation",
                        OutboxMessage.level == timer.level,
                        OutboxMessage.created_at == now,
                    )
                )
            )
        )
        names = ", ".join(company.person_name(person) for person in told)
        console.print(
            f"{when}  [bold magenta]ESCALATE[/] #{case.id} {case.case_type} {what} ({dept}) level {timer.level}: "
            f"told {names}{by}",
            soft_wrap=True,
        )
    else:
        console.print(
            f"{when}  [bold red]BREACH[/]  #{case.id} {case.case_type} {what}: {dept} missed "
            f"the deadline {_local(sla_clock.deadline_at)}{by}",
            soft_wrap=True,
        )


def _act(
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
                    f"{_local(now)}  [green]OPEN[/]    #{case.id} {case.case_type} by {who} -> "
                    f"{case.state} ({_owner(company, case)}, due {_local(case.due_at)})",
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
                    select(SlaClock.status).where(SlaClock.case_id == record.id, SlaClock.kind == "step")
                )
                verdict = "[green]on time[/]" if status == "met" else "[bold red]late[/]"
                console.print(
                    f"{_local(now)}  [blue]DELIVER[/] #{record.id} {record.data['duty']} by {who}: {verdict}",
                    soft_wrap=True,
                )
                totals["duties_met" if status == "met" else "duties_late"] += 1
                return
            if step.trigger == "acknowledge":
                record = cases.acknowledge(
                    session, company, case_id=ids[step.case], actor=actor, now=now, source="demo"
                )
                console.print(
                    f"{_local(now)}  [cyan]ACK[/]     #{record.id} {record.case_type}: {who} acknowledged "
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
            due = f", due {_local(case.due_at)}" if case.due_at else ""
            entering, leaving = definition.states[case.state], definition.states[before]
            if entering.on_behalf_of == before and leaving.department and entering.department:
                due += (
                    f"; {company.department_name(leaving.department)}'s clock pauses while it waits on "
                    f"{company.department_name(entering.department)}"
                )
            elif leaving.on_behalf_of == case.state and entering.department:
                due += f"; {company.department_name(entering.department)}'s clock resumes with the time it had left"
            console.print(
                f"{_local(now)}  [blue]MOVE[/]    #{case.id} {case.case_type}: {step.trigger} by {who}: "
                f"{before} -> {case.state} ({_owner(company, case)}{due})",
                soft_wrap=True,
            )
    except SlaflowError as exc:
        totals["rejected"] += 1
        console.print(f"{_local(now)}  [magenta]REFUSED[/] {who}: {exc}", highlight=False, soft_wrap=True)


def _owner(company: Company, case: CaseRecord) -> str:
    if case.owner_department is None:
        return "closed"
    role = f", {company.role_name(case.owner_role)}" if case.owner_role else ""
    return company.department_name(case.owner_department) + role


def _summary(factory: sessionmaker[Session], company: Company, now: datetime, console: Console) -> None:
    table = Table(title=f"SLA by department, week to {_local(now)} (Moscow time)")
    for column in ("department", "steps", "met", "breached", "running", "compliance", "business min late"):
        table.add_column(column, justify="left" if column == "department" else "right")
    with factory() as session:
        for row in department_figures(session, now=now):
            compliance = f"{row.compliance:.0%}" if row.compliance is not None else "-"
            style = "red" if row.breached else None
            table.add_row(
                company.department_name(row.department),
                str(row.steps),
                str(row.met),
                str(row.breached),
                str(row.running),
                compliance,
                f"{row.late_minutes:.0f}",
                style=style,
            )
    console.print(table)


def _freshness(factory: sessionmaker[Session], company: Company, now: datetime, console: Console) -> None:
    """How reliably the information sales depends on arrived this week."""
    table = Table(title="Information duties this week")
    for column in ("duty", "owed by", "occurrences", "on time", "late", "on-time rate", "worst (business min)"):
        table.add_column(column, justify="left" if column in ("duty", "owed by") else "right")
    with factory() as session:
        for row in freshness(session, company, now=now, since=at("Mon 00:00")):
            rate = f"{row.on_time_rate:.0%}" if row.on_time_rate is not None else "-"
            worst = f"{row.worst_late_minutes:.0f}" if row.worst_late_minutes is not None else "-"
            table.add_row(
                row.duty,
                company.department_name(row.department),
                str(row.occurrences),
                str(row.on_time),
                str(row.late),
                rate,
                worst,
                style="red" if row.late else None,
            )
    console.print(table)


def _whole_case_breaches(factory: sessionmaker[Session], company: Company, now: datetime, console: Console) -> None:
    """A missed whole-case target is charged to the departments that used the time."""
    with factory() as session:
        scope = Scope(since=at("Mon 00:00"), until=now, now=now)
        for case in sorted(late_cases(session, scope, limit=1000), key=lambda item: item.case_id):
            charged = ", ".join(
                f"{company.department_name(code)} {share:.0%}" for code, share in case.shares.items()
            )
            console.print(
                f"whole case #{case.case_id} {case.case_type} missed its target; business time used: {charged}",
                soft_wrap=True,
            )


def _local(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(MSK).strftime("%a %H:%M")
