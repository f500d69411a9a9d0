"""``slaflow watch ...``: follow or stop following a case, and list who follows it
(notifications.watchers). Registered by slaflow/cli.py's ``COMMANDS``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from notifications.watchers import follow, watchers
from org.actors import person_scope
from org.scope import require_readable
from slaflow.cli_support import AtOption, ConfigOption, DbOption, now_or, open_runtime

watch_app = typer.Typer(help="Follow cases: hear of their steps, outcome and expiring holds.", no_args_is_help=True)
ActorOption = Annotated[str, typer.Option("--as", help="person (from the company config) who follows")]
CaseId = Annotated[int, typer.Argument(min=1, max=2**31 - 1, help="case id", metavar="CASE_ID")]


def _set(case_id: int, person: str, at: datetime | None, database_url: str | None, config: Path | None, *,
         on: bool) -> None:
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        company.actor(person)  # an unknown person is one clear error
        found = follow(session, company, person_scope(company, person)[1], case_id=case_id, person=person,
                       now=now_or(at), following=on)
    print(f"case {case_id}: followed by {', '.join(found) or 'nobody'}")


@watch_app.command("follow")
def follow_command(case_id: CaseId, person: ActorOption, at: AtOption = None, database_url: DbOption = None,
                   config: ConfigOption = None) -> None:
    """Follow a case you may read."""
    _set(case_id, person, at, database_url, config, on=True)


@watch_app.command("unfollow")
def unfollow_command(case_id: CaseId, person: ActorOption, at: AtOption = None, database_url: DbOption = None,
                     config: ConfigOption = None) -> None:
    """Stop following a case (also one you opened)."""
    _set(case_id, person, at, database_url, config, on=False)


@watch_app.command("list")
def list_command(case_id: CaseId, person: ActorOption, database_url: DbOption = None,
                 config: ConfigOption = None) -> None:
    """Who follows a case."""
    with open_runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        require_readable(session, person_scope(company, person)[1], case_id)
        found = watchers(session, company, case_id)
    print(f"case {case_id}: followed by {', '.join(found) or 'nobody'}")
