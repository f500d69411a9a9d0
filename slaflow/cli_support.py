"""What every ``slaflow`` command shares: its options, parsing of instants, and how it prints
times (in the company's zone, the zone shown; JSON in ISO 8601 with the offset)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from runtime.assembly import Runtime

INSTANT_EXAMPLE = "2026-12-01T10:00+03:00"


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with a UTC offset (``Z`` allowed); a naive or invalid one is refused."""
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not an ISO 8601 date and time, e.g. {INSTANT_EXAMPLE}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset; give one, e.g. {INSTANT_EXAMPLE}")
    return moment


DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML (default: ./slaflow.yaml)")
]
AtOption = Annotated[
    datetime | None,
    typer.Option(
        "--at", parser=parse_instant, metavar="INSTANT",
        help=f"act at this instant instead of now (ISO 8601 with offset, e.g. {INSTANT_EXAMPLE})",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON (times in ISO 8601 with offset)")]


@contextmanager
def open_runtime(database_url: str | None, config: Path | None) -> Iterator[Runtime]:
    """The runtime of one command; its connections close when the command ends."""
    from runtime.assembly import Runtime

    runtime = Runtime.from_env(database_url=database_url, config=config)
    try:
        yield runtime
    finally:
        runtime.close()


def now_or(at: datetime | None) -> datetime:
    """``--at`` in UTC, else the real time (entry points are where the clock is read)."""
    from core.clock import SystemClock, ensure_utc

    return ensure_utc(at) if at is not None else SystemClock().now()


def local_time(moment: Any, zone: tzinfo) -> str:
    """A stored instant as people read it: in the company's zone, with the zone's name."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def to_json(value: Any, zone: tzinfo) -> str:
    """JSON with every datetime in ISO 8601 with the company zone's offset."""

    def default(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.astimezone(zone).isoformat()
        return str(item)

    return json.dumps(value, default=default, ensure_ascii=False, indent=2)
