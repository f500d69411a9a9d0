"""``slaflow regulation``: write the regulation documents (registered in ``slaflow.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from regulation.render import write_regulation
from runtime.assembly import Runtime


def regulation(
    out: Annotated[Path, typer.Option(help="folder for regulation.<locale>.md and .html")] = Path(
        "slaflow-out/regulation"
    ),
    locale: Annotated[str | None, typer.Option(help="ru, en or pl (default: the company's locale)")] = None,
    config: Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")] = None,
) -> None:
    """Render the interaction regulation from the company configuration."""
    company = Runtime.from_env(config=config).company
    for path in write_regulation(company, out, locale):
        Console(soft_wrap=True).print(f"wrote {path}", highlight=False, markup=False)
