"""``slaflow case ...`` and ``slaflow sweep``: thin — parse, call the engine in one transaction, print.

Times are printed in the company's zone (its name shown); ``--json`` gives ISO 8601 with offset.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.errors import SlaflowError
from engine import cases
from slaflow.cli_support import (
    AtOption,
    ConfigOption,
    DbOption,
    JsonFlag,
    local_time,
    now_or,
    open_runtime,
    to_json,
)

case_app = typer.Typer(help="Open, move and inspect cases.", no_args_is_help=True)
console = Console(soft_wrap=True)

ActorOption = Annotated[str, typer.Option("--as", help="person (from the company config) who acts")]
DataOption = Annotated[list[str] | None, typer.Option("--data", "-d", help="field=value (repeatable)")]
RawJsonOption = Annotated[str | None, typer.Option("--json", help="fields as a JSON object")]
CaseId = Annotated[int, typer.Argument(help="case id", metavar="CASE_ID")]


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


@case_app.command("open")
def case_open(
    case_type: Annotated[str, typer.Argument(help="case type name")],
    actor: ActorOption,
    data: DataOption = None,
    raw_json: RawJsonOption = None,
    external_key: Annotated[str | None, typer.Option(help="key of the record in another system")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Open a case."""
    fields = _fields(data, raw_json)
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        case = cases.open_case(
            session, company, case_type=case_type, data=fields, actor=company.actor(actor),
            now=now_or(at), source="cli", external_key=external_key,
        )
        console.print(
            f"opened case {case.id} ({case.case_type}) in state {case.state}, "
            f"owner {case.owner_department}, due {local_time(case.due_at, company.zone)}"
        )
        from engine.clocks import promise_warning

        warning = promise_warning(company, company.case_type(case.case_type), case.data, case.opened_at)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)


@case_app.command("fire")
def case_fire(
    case_id: CaseId,
    trigger: Annotated[str, typer.Argument(help="trigger name")],
    actor: ActorOption,
    data: DataOption = None,
    raw_json: RawJsonOption = None,
    expect_version: Annotated[int | None, typer.Option(help="fail if the case changed since this version")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Fire a trigger on a case."""
    payload = _fields(data, raw_json)
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        before = cases.get_case(session, case_id).state
        case = cases.fire(
            session, company, case_id=case_id, trigger=trigger, actor=company.actor(actor),
            payload=payload, now=now_or(at), expected_version=expect_version, source="cli",
        )
        console.print(
            f"case {case.id}: {before} -> {case.state} (version {case.version}), "
            f"owner {case.owner_department or '-'}, due {local_time(case.due_at, company.zone)}"
        )


@case_app.command("assign")
def case_assign(
    case_id: CaseId,
    person: Annotated[str, typer.Argument(help="person who holds the current step")],
    actor: ActorOption,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Name the person who holds the current step."""
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        case = cases.assign(
            session, company, case_id=case_id, person=person, actor=company.actor(actor), now=now_or(at), source="cli"
        )
        console.print(f"case {case.id}: step {case.state} is held by {person}")


@case_app.command("ack")
def case_ack(
    case_id: CaseId,
    actor: ActorOption,
    snooze: Annotated[str | None, typer.Option("--snooze", help="hold escalations for this long, e.g. 2h")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Acknowledge the current step's escalations (no more levels), or snooze them."""
    from state_machines.values import parse_business_minutes

    try:
        minutes = parse_business_minutes(snooze) if snooze is not None else None
    except ValueError as exc:
        raise SlaflowError(f"--snooze: {exc}") from None
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        case = cases.acknowledge(
            session, company, case_id=case_id, actor=company.actor(actor), now=now_or(at),
            snooze_minutes=minutes, source="cli",
        )
    what = f"snoozed for {snooze} of business time" if minutes else "acknowledged: no further escalation of this step"
    console.print(f"case {case.id} ({case.state}): {what}")


@case_app.command("show")
def case_show(
    case_id: CaseId,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a case: state, owner, deadline, clocks, and its history with warnings, breaches,
    escalations and the messages sent."""
    from engine.case_view import case_view
    from engine.timeline import history
    from engine.views import detail_of

    with open_runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        view = case_view(session, company, cases.get_case(session, case_id), now=now_or(at))
        detail = {**detail_of(view), "history": history(view)}
    zone = company.zone
    if as_json:
        print(to_json(detail, zone))
        return
    _print_detail(detail, zone)


def _print_detail(detail: dict[str, Any], zone: Any) -> None:
    def when(moment: Any) -> str:
        return local_time(moment, zone)

    console.print(f"[bold]case {detail['id']}[/] {detail['type']} — {detail['state']} (version {detail['version']})")
    console.print(f"owner: {detail['owner'] or '-'}   due: {when(detail['due_at'])}   "
                  f"remaining: {detail['remaining'] or '-'}")
    console.print(f"participants: {', '.join(detail['participants'])}")
    console.print(f"data: {json.dumps(detail['data'], ensure_ascii=False)}", highlight=False, markup=False)
    clock_table = Table("clock", "department", "status", "started", "deadline", "used (business min)")
    for clock in detail["clocks"]:
        clock_table.add_row(
            clock["kind"] + (f" {clock['state']}" if clock["state"] else ""), clock["department"], clock["status"],
            when(clock["started_at"]), when(clock["deadline_at"]), f"{clock['used_minutes']:.0f}",
        )
    console.print(clock_table)
    if detail["ledger"]:
        console.print(
            "business minutes by department: "
            + ", ".join(f"{row['department']} {row['minutes']:.0f} ({row['share']:.0%})" for row in detail["ledger"])
        )
    history = Table("at", "what", "who", "detail", title="history")
    for row in detail["history"]:
        history.add_row(when(row["at"]), row["kind"], row["who"], row["what"])
    console.print(history)


@case_app.command("list")
def case_list(
    case_type: Annotated[str | None, typer.Option("--type", help="only this case type")] = None,
    department: Annotated[str | None, typer.Option(help="only cases this department takes part in")] = None,
    state: Annotated[str | None, typer.Option(help="only cases in this state")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only open cases")] = False,
    limit: Annotated[int, typer.Option(min=1, help="at most this many")] = 100,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List cases (filters are checked: an unknown department, type or state is an error)."""
    from engine.filters import check_case_filters
    from engine.views import case_row

    with open_runtime(database_url, config) as runtime:
        company = runtime.company
        check_case_filters(company, case_type=case_type, department=department, state=state,
                           names=("--type", "--department", "--state"))
        with runtime.reads() as session:
            found = cases.list_cases(
                session, case_type=case_type, department=department, open_only=open_only, limit=limit, state=state
            )
            rows = [case_row(session, company, case, now=now_or(at)) for case in found]
    if as_json:
        print(to_json(rows, company.zone))
        return
    table = Table("id", "type", "state", "owner", "due", "remaining")
    for row in rows:
        table.add_row(str(row["id"]), row["type"], row["state"], row["owner"] or "-",
                      local_time(row["due_at"], company.zone), row["remaining"] or "-")
    console.print(table)


def sweep(database_url: DbOption = None, config: ConfigOption = None, at: AtOption = None, as_json: JsonFlag = False
          ) -> None:
    """Fire due timers once (warnings, breaches, automatic transitions), without Prefect, and say
    which cases fired what."""
    from sqlalchemy import select

    from core.vocabulary import TimerKind, TimerStatus
    from engine.timers import sweep as run_sweep
    from storage.models import Timer

    now = now_or(at)
    with open_runtime(database_url, config) as runtime:
        company = runtime.company
        result = run_sweep(runtime.sessions, company, now=now, owner="cli")
        with runtime.reads() as session:
            fired = session.scalars(
                select(Timer)
                .where(Timer.status == TimerStatus.FIRED, Timer.fired_at == now)
                .order_by(Timer.case_id, Timer.id)
            ).all()
            rows: list[dict[str, Any]] = [
                {"case": t.case_id, "kind": t.kind, "level": t.level, "state": t.state, "trigger": t.trigger}
                for t in fired
            ]
    summary = {"at": now, "claimed": result.claimed, "fired": dict(result.fired), "skipped": result.skipped,
               "failed": result.failed, "timers": rows}
    if as_json:
        print(to_json(summary, company.zone))
        return
    table = Table("case", "fired", "state", title=f"sweep at {local_time(now, company.zone)}")
    for row in rows:
        what = row["kind"] + (f" level {row['level']}" if row["kind"] == TimerKind.ESCALATION else "")
        table.add_row(str(row["case"]), what + (f" ({row['trigger']})" if row["trigger"] else ""), row["state"])
    if rows:
        console.print(table)
    counts = ", ".join(f"{count} {kind}" for kind, count in sorted(result.fired.items())) or "nothing due"
    console.print(f"fired: {counts}; skipped {result.skipped}, failed {result.failed}")
