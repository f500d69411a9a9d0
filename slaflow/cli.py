"""The ``slaflow`` command: a root group that imports each command's module only when it runs.

To add a command or a sub-app, add ONE line to ``COMMANDS``:
``"name": ("package.module:attribute", "one-line help")`` where the attribute is a
``typer.Typer`` (a sub-app) or a function (a command). Keep imports in that module, not here:
``slaflow --help`` must not import Prefect, FastAPI or the engine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

from slaflow.cli_lazy import LazySpec, lazy_group

COMMANDS: dict[str, LazySpec] = {
    "init": ("slaflow.commands.setup:init", "Create or upgrade the database; with --company, write a starter company."),
    "demo": ("slaflow.commands.setup:demo", "Simulate a working week at the example company."),
    "config": ("slaflow.commands.setup:config_app", "Check a company configuration."),
    "graph": ("slaflow.commands.setup:graph", "Print the Mermaid state diagram of a case type."),
    "case": ("slaflow.commands.cases:case_app", "Open, move and inspect cases."),
    "sweep": ("slaflow.commands.cases:sweep", "Fire due timers once (warnings, breaches, automatic transitions)."),
    "sla": ("slaflow.commands.sla:sla_app", "Check and explore the SLA records."),
    "notify": ("slaflow.commands.notifications:notify_app", "Send notifications by hand."),
    "outbox": ("slaflow.commands.notifications:outbox_app", "Inspect and retry queued notifications."),
    "inbox": ("slaflow.commands.crm:inbox_app", "Stored CRM webhooks: list them, re-process them."),
    "crm": ("slaflow.commands.crm:crm_app", "CRM accounts: check secrets and API access."),
    "serve": ("slaflow.commands.crm:serve", "Run the HTTP app (webhooks, REST API, dashboard)."),
    "regulation": ("slaflow.commands.regulation:regulation", "Write the interaction regulation (Markdown and HTML)."),
    "report": (
        "slaflow.commands.reports:report_app",
        "SLA reports: per department, ledger, trend, open cases, lead quality.",
    ),
    "deploy": (
        "slaflow.commands.flows:deploy",
        "Create the work pool, deployments and automations on the Prefect server.",
    ),
    "worker": (
        "slaflow.commands.flows:worker",
        "Run a Prefect worker on slaflow's work pool (needs a Prefect server).",
    ),
    "up": (
        "slaflow.commands.flows:up",
        "Run everything on this machine: Prefect server, deployments, HTTP app and a worker.",
    ),
    "reindex": (
        "slaflow.commands.maintenance:reindex",
        "Rebuild the report indexes (weekly at scale, after a bulk import).",
    ),
    "backup": ("slaflow.commands.backup:backup", "Copy the database to a file (SQLite backup API; pg_dump)."),
    "restore": ("slaflow.commands.backup:restore", "Replace the database with a backup taken by `slaflow backup`."),
    "user": ("slaflow.commands.access:user_app", "People who sign in: invite, set a password, make admin."),
    "token": ("slaflow.commands.access:token_app", "API tokens for people and integrations: create, list, revoke."),
    "telegram": ("slaflow.commands.telegram:telegram_app", "The Telegram bot: link an account, set the webhook."),
    "leads": ("slaflow.commands.leads:leads_app", "Lead records between marketing and sales: record, list, letters."),
    "digest": ("slaflow.commands.leads:digest", "Send the daily digest now."),
    "breach": ("slaflow.commands.breaches:breach_app", "Breaches: causes, exemptions, per-person export."),
    "watch": ("slaflow.commands.watch:watch_app", "Follow cases: hear of their steps, outcome and expiring holds."),
    "duties": (
        "slaflow.commands.duties:duties",
        "Each duty's latest figures: their age now and whether they are stale.",
    ),
}

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    help="SLA workflow engine for requests between departments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """SLA workflow engine for requests between departments."""


REPORT_HINT = (
    "this is a bug in slaflow: please report it with the command you ran (SLAFLOW_DEBUG=1 shows the traceback)"
)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print each line of ``message`` as ``error: ...`` on stderr and exit."""
    for line in str(message).splitlines() or [""]:
        print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: a user's mistake is one ``error:`` line and exit 2; a bug is exit 1 with a hint."""
    from core.errors import SlaflowError

    try:
        result = app(args=argv, prog_name="slaflow", standalone_mode=False)
    except SlaflowError as exc:
        fail(str(exc))
    except typer.TyperException as exc:  # typer's bundled click: usage errors, bad values
        _usage_error(exc)
    except typer.Abort:
        fail("aborted", 1)
    except Exception as exc:
        _other_error(exc)
    raise SystemExit(result if isinstance(result, int) else 0)


def _usage_error(exc: typer.TyperException) -> NoReturn:
    ctx: Any = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed when the error was made
        if exc.format_message().strip():
            print(exc.format_message(), file=sys.stderr)
        raise SystemExit(2)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    fail(exc.format_message().replace("\n", " ") + hint, getattr(exc, "exit_code", 2) or 2)


def _other_error(exc: Exception) -> NoReturn:
    """Database problems a user can fix are exit 2; anything else is a bug (exit 1)."""
    from core.errors import SlaflowError

    database = sys.modules.get("runtime.readiness")
    if database is not None:
        translated = database.user_error(exc)
        if isinstance(translated, SlaflowError):
            fail(str(translated))
    if os.environ.get("SLAFLOW_DEBUG"):
        raise exc
    fail(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0] + f" — {REPORT_HINT}", 1)


if __name__ == "__main__":
    main()
