"""Getting started: ``slaflow init`` (database, and a starter company), ``slaflow demo``,
``slaflow config validate`` and ``slaflow graph``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.errors import SlaflowError
from runtime.settings import DEFAULT_COMPANY_FILE
from slaflow.cli_support import ConfigOption, DbOption, now_or

config_app = typer.Typer(help="Check a company configuration.", no_args_is_help=True)
console = Console(soft_wrap=True)

OUT_DIR = Path("slaflow-out")
"""Every file slaflow generates goes under this folder unless told otherwise (it is in .gitignore)."""


def init(
    company: Annotated[str | None, typer.Option(help="write a starter company file with this name")] = None,
    departments: Annotated[
        str | None, typer.Option(help="comma-separated department codes for the starter, e.g. sales,warehouse")
    ] = None,
    locale: Annotated[str, typer.Option(help="the starter company's language: ru, en or pl")] = "en",
    timezone: Annotated[str, typer.Option(help="the starter company's time zone")] = "Europe/Moscow",
    holidays: Annotated[str, typer.Option(help="public holidays of this country (ISO code; '' for none)")] = "RU",
    wizard: Annotated[
        bool | None, typer.Option(help="ask for the starter company's details (default: when run in a terminal)")
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing company file")] = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Create or upgrade the database (safe to run again); with --company, first write a starter
    company file (./slaflow.yaml unless --config says otherwise)."""
    from runtime.assembly import Runtime

    target = config or DEFAULT_COMPANY_FILE
    asking = wizard if wizard is not None else (company is None and sys.stdin.isatty() and not target.exists())
    if asking:
        company, departments, locale, timezone = _ask(company, departments, locale, timezone)
    if company:
        _write_starter(target, company, departments, locale=locale, timezone=timezone, holidays=holidays, force=force)
    elif departments:
        raise SlaflowError("--departments needs --company NAME (the starter company's name)")
    runtime = Runtime.from_env(database_url=database_url, config=target if company else config)
    runtime.migrate()
    from runtime.readiness import shown

    console.print(f"database ready: {shown(runtime.settings.database_url)}", highlight=False)
    if company:
        console.print(f"next: slaflow case list   (the company file is {target}; edit it, then "
                      f"`slaflow config validate {target}`)", highlight=False, markup=False)


def _ask(
    company: str | None, departments: str | None, locale: str, timezone: str
) -> tuple[str | None, str | None, str, str]:
    console.print("A starter company for slaflow (Enter keeps the value in brackets; an empty name only "
                  "creates the database).")
    name = typer.prompt("Company name", default=company or "", show_default=bool(company)).strip()
    if not name:
        return None, None, locale, timezone
    codes = typer.prompt("Department codes, comma-separated", default=departments or "sales,warehouse")
    language = typer.prompt("Language (ru, en, pl)", default=locale)
    zone = typer.prompt("Time zone", default=timezone)
    return name, codes, language, zone


def _write_starter(
    target: Path, company: str, departments: str | None, *, locale: str, timezone: str, holidays: str, force: bool
) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from slaflow.starter import starter_config, write_starter

    if not departments:
        raise SlaflowError("--company needs --departments, e.g. --departments sales,warehouse")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SlaflowError(f"--timezone: unknown time zone {timezone!r}; e.g. Europe/Moscow, Europe/Warsaw") from None
    config = starter_config(company, departments.split(","), locale=locale, timezone=timezone,
                            holidays_country=holidays or None)
    write_starter(target, config, force=force)
    used = ", ".join(config["builtin_case_types"]) or "none yet (add your own under case_types:)"
    console.print(f"wrote {target}: {len(config['departments'])} departments; built-in case types in use: {used}",
                  highlight=False, markup=False)


def demo(
    out: Annotated[Path, typer.Option(help="folder for everything the demo writes (recreated files)")] = OUT_DIR,
    config: Annotated[Path | None, typer.Option("--config", help="company YAML (default: the example company)")] = None,
    prefect: Annotated[bool, typer.Option(help="sweep with Prefect flow runs (else call the sweeper directly)")] = True,
) -> None:
    """Simulate a working week at the example company: open cases of every type, move them,
    miss deadlines, report. Writes its database, messages, report and transcript under --out."""
    from slaflow.demo import run_demo

    run_demo(out=out, config=config, console=console, prefect=prefect)


@config_app.command("validate")
def config_validate(
    file: Annotated[Path | None, typer.Argument(help="company YAML file (default: --config, ./slaflow.yaml)")] = None,
    config: ConfigOption = None,
) -> None:
    """Run every check serve, the worker and the engine would, and report every problem."""
    from runtime.settings import Settings
    from slaflow.validate import validate_file

    path = file or Settings(config=config).company_file()
    company, problems = validate_file(path, now_or(None))
    if problems:
        raise SlaflowError("\n".join(problems))
    assert company is not None
    cfg = company.config
    console.print(
        f"{path}: OK — {len(cfg.departments)} departments, {len(cfg.people)} people, "
        f"{len(cfg.calendars)} calendars, {len(company.case_types)} case types "
        f"({len(cfg.case_types)} from the file)", highlight=False
    )


def graph(
    case_type: Annotated[str | None, typer.Argument(help="case type name (all types if omitted)")] = None,
    locale: Annotated[str, typer.Option(help="label language: ru, en or pl")] = "en",
    config: ConfigOption = None,
) -> None:
    """Print the Mermaid state diagram of a case type (or Markdown with all of them)."""
    from runtime.assembly import Runtime
    from state_machines.machine import diagrams_markdown

    company = Runtime.from_env(config=config).company
    if case_type is None:
        console.print(diagrams_markdown(company.case_types.values(), locale), highlight=False, markup=False)
        return
    console.print(company.machine(case_type).mermaid(locale), highlight=False, markup=False)
