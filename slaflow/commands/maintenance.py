"""``slaflow reindex``: rebuild the indexes the reports read (`storage.maintenance`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from slaflow.cli_support import DbOption, JsonFlag, open_runtime

console = Console(soft_wrap=True)


def reindex(
    index: Annotated[
        list[str] | None,
        typer.Option("--index", help="rebuild only this report index (repeat for several; default: all of them)"),
    ] = None,
    json_out: JsonFlag = False,
    database_url: DbOption = None,
) -> None:
    """Rebuild the report indexes, packing the pages that new clocks left half full (weekly at
    scale; after a bulk import). PostgreSQL rebuilds concurrently, writers go on; SQLite holds
    its write lock meanwhile."""
    from storage.maintenance import REPORT_INDEXES, rebuild_indexes

    with open_runtime(database_url, None) as runtime:  # a missing or outdated database: one clear error
        done = rebuild_indexes(runtime.engine, index or REPORT_INDEXES)
    if json_out:
        print(json.dumps([asdict(rebuilt) for rebuilt in done]))
        return
    for r in done:
        console.print(f"{r.index}: {r.bytes_before / 2**20:,.1f} MB -> {r.bytes_after / 2**20:,.1f} MB "
                      f"in {r.seconds:.1f} s")
