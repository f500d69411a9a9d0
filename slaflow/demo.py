"""`slaflow demo`: a simulated working week at the example company.

Opens a case of every type, moves them as people would (some late), lets the sweeper fire
warnings, breaches and automatic transitions, shows the errors a wrong move gets, and ends with
the per-department SLA summary. Time is simulated: nothing waits for a real deadline.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from core.clock import SimulatedClock
from core.vocabulary import TimerKind, TimerStatus
from duties.config import duties_of
from duties.schedule import occurrences
from leads.report import lead_departments
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from org.chart import Company
from reports.render import write_report
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from sla.model import ClockKind
from slaflow.demo_acts import act
from slaflow.demo_leads import run_lead_week
from slaflow.demo_runners import DutyOpener, Sweeper, direct_duties, direct_sweeper, prefect_duties, prefect_sweeper
from slaflow.demo_script import DUTY_STEPS, END, SCRIPT, START, SWEEP_EVERY, at, local
from slaflow.demo_tables import freshness_table, summary, whole_case_breaches
from state_machines.values import label_text
from storage.db import make_engine, migrate, session_factory
from storage.models import Case, OutboxMessage, SlaClock, Timer


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
    sweeper = prefect_sweeper(url, console) if prefect else direct_sweeper(factory, company)
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
    duty_opener = prefect_duties(url) if prefect else direct_duties(factory, company)
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
        act(factory, company, clock, step, ids, console, totals)
    console.print()
    summary(factory, company, clock.now(), console)
    whole_case_breaches(factory, company, clock.now(), console)
    freshness_table(factory, company, clock.now(), console)
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
            due = session.scalar(select(exists().where(Timer.status == TimerStatus.PENDING, Timer.due_at <= now)))
        if not due:
            continue
        fired, flow_run = sweeper(now)
        totals["flow_runs"] += flow_run is not None
        totals["warnings"] += fired[TimerKind.WARNING]
        totals["breaches"] += fired[TimerKind.BREACH]
        totals["auto"] += fired[TimerKind.AUTO]
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
                f"{local(case.opened_at)}  [blue]DUTY[/]    #{case.id} {case.data['duty']}: "
                f"{company.department_name(case.performer)} owes it by {local(case.due_at)}",
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
    when = local(now)
    by = f"  [dim](flow run {flow_run})[/]" if flow_run else ""
    if timer.kind == TimerKind.AUTO:
        console.print(
            f"{when}  [cyan]AUTO[/]    #{case.id} {case.case_type}: {timer.trigger} -> {case.state}{by}", soft_wrap=True
        )
        return
    assert sla_clock is not None
    what = f"step {sla_clock.state}" if sla_clock.kind == ClockKind.STEP else "whole case"
    dept = company.department_name(sla_clock.department)
    if timer.kind == TimerKind.WARNING:
        console.print(
            f"{when}  [yellow]WARNING[/] #{case.id} {case.case_type} {what}: {dept} has used "
            f"{sla_clock.warn_fraction:.0%} of its time, due {local(sla_clock.deadline_at)}{by}",
            soft_wrap=True,
        )
    elif timer.kind == TimerKind.ESCALATION:
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
            f"the deadline {local(sla_clock.deadline_at)}{by}",
            soft_wrap=True,
        )
