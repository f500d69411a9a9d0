"""``slaflow sla rebuild|what-if``: check the SLA records against the event log, and replay them
under other calendars or targets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.errors import SlaflowError
from slaflow.cli_support import AtOption, ConfigOption, DbOption, now_or, open_runtime, parse_instant

if TYPE_CHECKING:
    from sla.calendar import BusinessCalendar

sla_app = typer.Typer(help="Check and explore the SLA records.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@sla_app.command("rebuild")
def sla_rebuild(
    case_ids: Annotated[list[int] | None, typer.Option("--case", help="only these cases (repeatable)")] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many cases")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Recompute clocks, breaches, pauses and timers from the event log and compare with the stored ones."""
    from engine.rebuild import rebuild

    with open_runtime(database_url, config) as runtime:
        result = rebuild(runtime.sessions, runtime.company, case_ids=case_ids, limit=limit)
    for case_id, differences in result.differences.items():
        for difference in differences:
            errors.print(f"case {case_id}: {difference}", highlight=False, markup=False)
    if not result.ok:
        errors.print(f"{len(result.differences)} of {result.checked} cases differ from their event log")
        raise typer.Exit(1)
    console.print(
        f"{result.checked} cases replayed from their event logs: every clock, breach, pause and timer matches"
    )



@sla_app.command("what-if")
def sla_what_if(
    since: Annotated[
        datetime, typer.Option("--from", parser=parse_instant, metavar="INSTANT", help="cases opened from this instant")
    ],
    until: Annotated[
        datetime, typer.Option("--to", parser=parse_instant, metavar="INSTANT", help="until this instant (exclusive)")
    ],
    calendar_file: Annotated[Path | None, typer.Option("--calendar", help="YAML with calendars to try")] = None,
    changed_config: Annotated[Path | None, typer.Option("--with-config", help="a whole company YAML to try")] = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Replay past cases under other calendars or targets and show how compliance would change."""
    from core.clock import ensure_utc
    from engine.rebuild import what_if
    from runtime.company import load_company

    with open_runtime(database_url, config) as runtime:
        company = runtime.company
        changed = load_company(changed_config) if changed_config else company
        if calendar_file:
            changed = changed.with_versions(calendars=_calendars_from(calendar_file))
        if changed is company:
            raise SlaflowError("give --calendar FILE and/or --with-config FILE to compare against")
        result = what_if(
            runtime.sessions, company, changed, since=ensure_utc(since), until=ensure_utc(until), now=now_or(at)
        )
    table = Table("department", "breached before", "after", "compliance before", "after")
    after = {row.department: row for row in result.after}
    for row in result.before:
        new = after.get(row.department)
        table.add_row(row.department, str(row.breached), str(new.breached if new else "-"), _pct(row.compliance),
                      _pct(new.compliance) if new else "-")
    console.print(table)
    console.print(
        f"{result.cases} cases replayed; {len(result.skipped)} could not be replayed under the change; "
        f"{len(result.differences) or 'no'} departments' figures differ"
    )
    for case_id, reason in result.skipped.items():
        console.print(f"  case {case_id}: {reason}", highlight=False, markup=False)


def _calendars_from(path: Path) -> dict[str, BusinessCalendar]:
    from pydantic import ValidationError

    from core.yaml_loader import read_yaml
    from sla.calendar import BusinessCalendar

    raw = read_yaml(path)
    raw = raw.get("calendars", raw) if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise SlaflowError(f"{path}: expected a mapping of calendar names to calendars (optionally under 'calendars:')")
    try:
        return {name: BusinessCalendar.from_mapping(body, name=name) for name, body in raw.items()}
    except ValidationError as exc:
        raise SlaflowError(f"{path}: {exc}") from None


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"
