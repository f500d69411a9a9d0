"""``slaflow user ...`` and ``slaflow token ...``: who may sign in and which API tokens exist.
Registered by slaflow/cli.py; the services are in ``org.accounts`` and ``org.tokens``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.clock import SystemClock
from core.errors import SlaflowError
from crm.config import crm_config
from slaflow.cli_support import open_runtime as _runtime

user_app = typer.Typer(help="People who sign in to the dashboard: invitations, passwords, admins.",
                       no_args_is_help=True)
token_app = typer.Typer(help="API tokens of people and integrations (stored hashed).", no_args_is_help=True)
console = Console(soft_wrap=True)

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
PersonArg = Annotated[str, typer.Argument(help="person id from the company config (people:)")]




@user_app.command("invite")
def user_invite(
    person: PersonArg,
    hours: Annotated[int, typer.Option(help="the link expires after this many hours")] = 72,
    admin: Annotated[bool, typer.Option("--admin", help="also make the person an admin")] = False,
    base_url: Annotated[str, typer.Option(envvar="SLAFLOW_PUBLIC_URL",
                                          help="the dashboard's address as people reach it")] = "http://127.0.0.1:8000",
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a one-time link with which PERSON sets a password (earlier links stop working)."""
    from org.accounts import invite

    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        token = invite(session, runtime.company, person, now=SystemClock().now(), hours=hours,
                       admin=True if admin else None)
    console.print(f"{base_url.rstrip('/')}/dashboard/invite/{token}", highlight=False)
    console.print(f"(valid for {hours} h, once; send it to {person} only)", style="dim", highlight=False)


@user_app.command("set-password")
def user_set_password(
    person: PersonArg,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Set PERSON's password (asked twice, not echoed); their open sessions end."""
    from org.accounts import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        set_password(session, runtime.company, person, password, now=SystemClock().now())
    console.print(f"password set for {person}", highlight=False)


@user_app.command("admin")
def user_admin(
    person: PersonArg,
    revoke: Annotated[bool, typer.Option("--revoke", help="take the admin right away instead")] = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Make PERSON an admin (manages users and tokens, reads stored webhooks), or --revoke it."""
    from org.accounts import set_admin

    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        set_admin(session, runtime.company, person, not revoke, now=SystemClock().now())
    console.print(f"{person} is {'no longer ' if revoke else ''}an admin", highlight=False)


@user_app.command("list")
def user_list(database_url: DbOption = None, config: ConfigOption = None) -> None:
    """Accounts: who has a password, who is an admin."""
    from org.accounts import list_accounts

    table = Table("person", "password", "admin", "changed (UTC)")
    with _runtime(database_url, config) as runtime, runtime.reads() as session:
        for row in list_accounts(session):
            table.add_row(row.person, "yes" if row.has_password else "no", "yes" if row.admin else "",
                          f"{row.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)


@token_app.command("create")
def token_create(
    person: Annotated[str | None, typer.Option("--person", help="the token acts and reads as this person")] = None,
    membership: Annotated[list[str] | None, typer.Option(
        "--membership", help="an integration's department/role (repeatable): what it may do and read")] = None,
    name: Annotated[str | None, typer.Option("--name", help="a name to list and revoke it by (default: the person)")]
    = None,
    admin: Annotated[bool, typer.Option("--admin", help="an integration token that may read stored webhooks")]
    = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Make a token and print it once; only its hash is stored."""
    from org.tokens import create_token

    chosen = name or person
    if chosen is None:
        raise SlaflowError("an integration token needs --name")
    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        token = create_token(session, runtime.company, name=chosen, now=SystemClock().now(), person=person,
                             memberships=membership, admin=admin,
                             configured=crm_config(runtime.company).api_tokens)
    print(token)
    console.print(f"token {chosen!r} created; it is shown only now (send it as 'Authorization: Bearer ...')",
                  style="dim", highlight=False)


@token_app.command("list")
def token_list(
    all_: Annotated[bool, typer.Option("--all", help="also revoked tokens")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines (times in ISO 8601)")] = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Tokens with what they act as and when they were last used (UTC)."""
    from org.tokens import list_tokens

    if as_json:
        with _runtime(database_url, config) as runtime, runtime.reads() as session:
            for row in list_tokens(session, include_revoked=all_):
                print(json.dumps({**asdict(row), **{key: value.isoformat() for key, value in asdict(row).items()
                                                    if isinstance(value, datetime)}}))
        return
    table = Table("name", "acts as", "admin", "created", "last used", "revoked")
    with _runtime(database_url, config) as runtime, runtime.reads() as session:
        for row in list_tokens(session, include_revoked=all_):
            table.add_row(row.name, row.person or ", ".join(row.memberships), "yes" if row.admin else "",
                          f"{row.created_at:%Y-%m-%d %H:%M}",
                          "never" if row.last_used_at is None else f"{row.last_used_at:%Y-%m-%d %H:%M}",
                          "" if row.revoked_at is None else f"{row.revoked_at:%Y-%m-%d %H:%M}")
        for configured in crm_config(runtime.company).api_tokens:
            table.add_row(configured.name, configured.person or ", ".join(configured.memberships), "",
                          "in the company file", "not recorded", "")
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="the token's name")],
                 database_url: DbOption = None, config: ConfigOption = None) -> None:
    """Revoke a token at once (requests with it get 401 from now on)."""
    from org.tokens import revoke_token

    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        revoke_token(session, runtime.company, name, now=SystemClock().now(),
                     configured=crm_config(runtime.company).api_tokens)
    console.print(f"token {name!r} revoked", highlight=False)
