"""The ``slaflow`` command. Thin: parse, call a service in one transaction, print."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from crm.cli import inbox_app, serve
from flows.cli import deploy as flows_deploy
from flows.cli import up as flows_up
from flows.cli import worker as flows_worker
from notifications.cli import notify_app, outbox_app
from reports.cli import report_app
from sla.calendar import BusinessCalendar
from slaflow import cases
from slaflow.clock import SystemClock, ensure_utc
from slaflow.company import load_company
from slaflow.errors import SlaflowError
from slaflow.regulation.cli import regulation
from slaflow.runtime import Runtime
from slaflow.views import case_detail, case_row
from state_machines.machine import diagrams_markdown

app = typer.Typer(help="SLA workflow engine for requests between departments.", no_args_is_help=True)
case_app = typer.Typer(help="Open, move and inspect cases.", no_args_is_help=True)
config_app = typer.Typer(help="Check a company configuration.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(config_app, name="config")
sla_app = typer.Typer(help="Check and explore the SLA records.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")
app.add_typer(notify_app, name="notify")
app.add_typer(outbox_app, name="outbox")
app.add_typer(inbox_app, name="inbox")
app.command("serve")(serve)
app.command()(regulation)
app.add_typer(report_app, name="report")
app.command("worker")(flows_worker)
app.command("deploy")(flows_deploy)
app.command("up")(flows_up)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)  # one line per error, however long

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
AtOption = Annotated[
    datetime | None, typer.Option("--at", help="act at this instant (ISO 8601 with offset) instead of now")
]
ActorOption = Annotated[str, typer.Option("--as", help="person (from the company config) who acts")]
DataOption = Annotated[list[str] | None, typer.Option("--data", "-d", help="field=value (repeatable)")]
JsonOption = Annotated[str | None, typer.Option("--json", help="fields as a JSON object")]


def _runtime(database_url: str | None, config: Path | None) -> Runtime:
    return Runtime.from_env(database_url=database_url, config=config)


def _now(at: datetime | None) -> datetime:
    return ensure_utc(at) if at is not None else SystemClock().now()


def _fields(pairs: list[str] | None, raw_json: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except json.JSONDecodeError as exc:
            raise SlaflowError(f"--json is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise SlaflowError("--json must be a JSON object")
        fields.update(loaded)
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SlaflowError(f"--data {pair!r} must look like field=value")
        fields[key.strip()] = _scalar(value)
    return fields


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        return text


def main() -> None:
    """Entry point that turns slaflow errors into one clear line and exit code 2."""
    try:
        app(standalone_mode=False)
    except SlaflowError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise SystemExit(2) from None
    except typer.Abort:
        raise SystemExit(1) from None
    except Exception as exc:  # click usage errors carry their own exit codes
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise


@app.command()
def init(database_url: DbOption = None, config: ConfigOption = None) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    runtime = _runtime(database_url, config)
    runtime.migrate()
    console.print(f"database ready: {runtime.settings.database_url}")


@app.command()
def demo(
    database: Annotated[Path, typer.Option(help="SQLite file for the demo (recreated)")] = Path("slaflow-demo.db"),
    config: ConfigOption = None,
    prefect: Annotated[bool, typer.Option(help="sweep with Prefect flow runs (else call the sweeper directly)")] = True,
) -> None:
    """Simulate a working week: open cases of every type, move them, miss deadlines, report."""
    from slaflow.demo import run_demo

    run_demo(database=database, config=config, console=console, prefect=prefect)


@app.command()
def graph(
    case_type: Annotated[str | None, typer.Argument(help="case type name (all types if omitted)")] = None,
    locale: Annotated[str, typer.Option(help="label language: ru, en or pl")] = "en",
    config: ConfigOption = None,
) -> None:
    """Print the Mermaid state diagram of a case type (or Markdown with all of them)."""
    company = _runtime(None, config).company
    if case_type is None:
        console.print(diagrams_markdown(company.case_types.values(), locale), highlight=False, markup=False)
        return
    console.print(company.machine(case_type).mermaid(locale), highlight=False, markup=False)


@config_app.command("validate")
def config_validate(file: Annotated[Path, typer.Argument(help="company YAML file")]) -> None:
    """Validate a company configuration; errors name the file, the path inside it and the problem."""
    company = load_company(file)
    config = company.config
    console.print(
        f"{file}: OK — {len(config.departments)} departments, {len(config.people)} people, "
        f"{len(config.calendars)} calendars, {len(company.case_types)} case types "
        f"({len(config.case_types)} from the file)"
    )


@app.command()
def sweep(database_url: DbOption = None, config: ConfigOption = None, at: AtOption = None) -> None:
    """Fire due timers once (warnings, breaches, automatic transitions), without Prefect."""
    from slaflow.timers import sweep as run_sweep

    runtime = _runtime(database_url, config)
    result = run_sweep(runtime.sessions, runtime.company, now=_now(at), owner="cli")
    console.print(
        f"claimed {result.claimed}, fired {dict(result.fired)}, skipped {result.skipped}, failed {result.failed}"
    )


@case_app.command("open")
def case_open(
    case_type: Annotated[str, typer.Argument(help="case type name")],
    actor: ActorOption,
    data: DataOption = None,
    raw_json: JsonOption = None,
    external_key: Annotated[str | None, typer.Option(help="key of the record in another system")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Open a case."""
    runtime = _runtime(database_url, config)
    company = runtime.company
    with runtime.sessions.begin() as session:
        case = cases.open_case(
            session,
            company,
            case_type=case_type,
            data=_fields(data, raw_json),
            actor=company.actor(actor),
            now=_now(at),
            source="cli",
            external_key=external_key,
        )
        console.print(
            f"opened case {case.id} ({case.case_type}) in state {case.state}, "
            f"owner {case.owner_department}, due {_fmt(case.due_at)}"
        )


@case_app.command("fire")
def case_fire(
    case_id: Annotated[int, typer.Argument(help="case id")],
    trigger: Annotated[str, typer.Argument(help="trigger name")],
    actor: ActorOption,
    data: DataOption = None,
    raw_json: JsonOption = None,
    expect_version: Annotated[int | None, typer.Option(help="fail if the case changed since this version")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Fire a trigger on a case."""
    runtime = _runtime(database_url, config)
    company = runtime.company
    with runtime.sessions.begin() as session:
        before = cases.get_case(session, case_id).state
        case = cases.fire(
            session,
            company,
            case_id=case_id,
            trigger=trigger,
            actor=company.actor(actor),
            payload=_fields(data, raw_json),
            now=_now(at),
            expected_version=expect_version,
            source="cli",
        )
        console.print(
            f"case {case.id}: {before} -> {case.state} (version {case.version}), "
            f"owner {case.owner_department or '-'}, due {_fmt(case.due_at)}"
        )


@case_app.command("assign")
def case_assign(
    case_id: Annotated[int, typer.Argument(help="case id")],
    person: Annotated[str, typer.Argument(help="person who holds the current step")],
    actor: ActorOption,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Name the person who holds the current step."""
    runtime = _runtime(database_url, config)
    company = runtime.company
    with runtime.sessions.begin() as session:
        case = cases.assign(
            session, company, case_id=case_id, person=person, actor=company.actor(actor), now=_now(at), source="cli"
        )
        console.print(f"case {case.id}: step {case.state} is held by {person}")


@case_app.command("ack")
def case_ack(
    case_id: Annotated[int, typer.Argument(help="case id")],
    actor: ActorOption,
    snooze: Annotated[str | None, typer.Option("--snooze", help="hold escalations for this long, e.g. 2h")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Acknowledge the current step's escalations (no more levels), or snooze them."""
    from state_machines.schema import parse_business_minutes

    runtime = _runtime(database_url, config)
    company = runtime.company
    try:
        minutes = parse_business_minutes(snooze) if snooze is not None else None
    except ValueError as exc:
        raise SlaflowError(f"--snooze: {exc}") from None
    with runtime.sessions.begin() as session:
        case = cases.acknowledge(session, company, case_id=case_id, actor=company.actor(actor), now=_now(at),
                                 snooze_minutes=minutes, source="cli")
    what = f"snoozed for {snooze} of business time" if minutes else "acknowledged: no further escalation of this step"
    console.print(f"case {case.id} ({case.state}): {what}")


@case_app.command("show")
def case_show(
    case_id: Annotated[int, typer.Argument(help="case id")],
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show a case: state, owner, deadline, clocks and history."""
    runtime = _runtime(database_url, config)
    with runtime.sessions() as session:
        detail = case_detail(session, runtime.company, cases.get_case(session, case_id), now=_now(at))
    if as_json:
        console.print_json(json.dumps(detail, default=str))
        return
    console.print(f"[bold]case {detail['id']}[/] {detail['type']} — {detail['state']} (version {detail['version']})")
    console.print(
        f"owner: {detail['owner'] or '-'}   due: {_fmt(detail['due_at'])}   remaining: {detail['remaining'] or '-'}"
    )
    console.print(f"participants: {', '.join(detail['participants'])}")
    console.print(f"data: {json.dumps(detail['data'], ensure_ascii=False)}", highlight=False, markup=False)
    clock_table = Table("clock", "department", "status", "started", "deadline", "used (business min)")
    for clock in detail["clocks"]:
        clock_table.add_row(
            clock["kind"] + (f" {clock['state']}" if clock["state"] else ""),
            clock["department"],
            clock["status"],
            _fmt(clock["started_at"]),
            _fmt(clock["deadline_at"]),
            f"{clock['used_minutes']:.0f}",
        )
    console.print(clock_table)
    if detail["ledger"]:
        console.print(
            "business minutes by department: "
            + ", ".join(f"{row['department']} {row['minutes']:.0f} ({row['share']:.0%})" for row in detail["ledger"])
        )
    history = Table("seq", "at", "actor", "trigger", "from", "to")
    for event in detail["events"]:
        history.add_row(
            str(event["seq"]), _fmt(event["at"]), event["actor"], event["trigger"], event["from"] or "", event["to"]
        )
    console.print(history)


@case_app.command("list")
def case_list(
    case_type: Annotated[str | None, typer.Option("--type", help="only this case type")] = None,
    department: Annotated[str | None, typer.Option(help="only cases this department takes part in")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only open cases")] = False,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """List cases."""
    runtime = _runtime(database_url, config)
    table = Table("id", "type", "state", "owner", "due", "remaining")
    with runtime.sessions() as session:
        for case in cases.list_cases(
            session, case_type=case_type, department=department, open_only=open_only, limit=limit
        ):
            row = case_row(runtime.company, case, now=_now(at))
            table.add_row(
                str(row["id"]),
                row["type"],
                row["state"],
                row["owner"] or "-",
                _fmt(row["due_at"]),
                row["remaining"] or "-",
            )
    console.print(table)


@sla_app.command("rebuild")
def sla_rebuild(
    case_ids: Annotated[list[int] | None, typer.Option("--case", help="only these cases (repeatable)")] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many cases")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Recompute clocks, breaches, pauses and timers from the event log and compare with the stored ones."""
    from slaflow.rebuild import rebuild

    runtime = _runtime(database_url, config)
    result = rebuild(runtime.sessions, runtime.company, case_ids=case_ids, limit=limit)
    for case_id, differences in result.differences.items():
        for difference in differences:
            errors.print(f"case {case_id}: {difference}", highlight=False, markup=False)
    if not result.ok:
        errors.print(f"{len(result.differences)} of {result.checked} cases differ from their event log")
        raise SystemExit(1)
    console.print(
        f"{result.checked} cases replayed from their event logs: every clock, breach, pause and timer matches"
    )


@sla_app.command("what-if")
def sla_what_if(
    since: Annotated[datetime, typer.Option("--from", help="cases opened from this instant (ISO 8601)")],
    until: Annotated[datetime, typer.Option("--to", help="until this instant (exclusive)")],
    calendar_file: Annotated[Path | None, typer.Option("--calendar", help="YAML with calendars to try")] = None,
    changed_config: Annotated[Path | None, typer.Option("--with-config", help="a whole company YAML to try")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Replay past cases under other calendars or targets and show how compliance would change."""
    from slaflow.rebuild import what_if

    runtime = _runtime(database_url, config)
    company = runtime.company
    changed = load_company(changed_config) if changed_config else company
    if calendar_file:
        changed = changed.with_versions(calendars=_calendars_from(calendar_file))
    if changed is company:
        raise SlaflowError("give --calendar FILE and/or --with-config FILE to compare against")
    result = what_if(runtime.sessions, company, changed, since=ensure_utc(since), until=ensure_utc(until), now=_now(at))
    table = Table("department", "breached before", "after", "compliance before", "after")
    after = {row.department: row for row in result.after}
    for row in result.before:
        new = after.get(row.department)
        table.add_row(
            row.department,
            str(row.breached),
            str(new.breached if new else "-"),
            _pct(row.compliance),
            _pct(new.compliance) if new else "-",
        )
    console.print(table)
    console.print(f"{result.cases} cases replayed; {len(result.skipped)} could not be replayed under the change")
    for case_id, reason in result.skipped.items():
        console.print(f"  case {case_id}: {reason}", highlight=False, markup=False)


def _calendars_from(path: Path) -> dict[str, BusinessCalendar]:
    import yaml
    from pydantic import ValidationError

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SlaflowError(f"{path}: cannot read calendars: {exc}") from None
    raw = raw.get("calendars", raw) if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise SlaflowError(f"{path}: expected a mapping of calendar names to calendars (optionally under 'calendars:')")
    try:
        return {name: BusinessCalendar.from_mapping(body, name=name) for name, body in raw.items()}
    except ValidationError as exc:
        raise SlaflowError(f"{path}: {exc}") from None


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"


def _fmt(moment: Any) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, str):
        return moment
    return f"{moment:%Y-%m-%d %H:%M} UTC"


if __name__ == "__main__":
    main()
