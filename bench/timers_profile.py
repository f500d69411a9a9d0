"""Where a PostgreSQL sweep spends its time: one in-process sweep of ``--due`` due timers among
``--open`` open cases (the rows of bench/timers.py), with the driver's calls counted and timed.

    .venv/bin/python bench/timers_profile.py --open 20000 --due 1000 [--cprofile out.prof]

Prints the wall time split into time inside psycopg's execute/executemany/fetch (round trips and
the server's work) and the rest (Python CPU), the statements per fired timer by SQL text, and,
with ``--cprofile``, the top of a cProfile (process time, or wall time with ``--wall``) of a
second sweep on a fresh copy.
Each run sweeps its own copy of the loaded database (``CREATE DATABASE ... TEMPLATE``).
The last line printed is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import cProfile  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402

from bench.engine_pg import _drop_pg  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_timers", ROOT / "bench" / "timers.py")
assert _spec is not None and _spec.loader is not None
bench = sys.modules["bench_timers"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

_calls: Counter[str] = Counter()
_rows: Counter[str] = Counter()
_db_time = [0.0]


def _instrument() -> None:
    """Count and time psycopg's cursor calls (the driver under SQLAlchemy and `Prepared`)."""
    cursor = psycopg.Cursor

    def wrap(name: str) -> None:
        original = getattr(cursor, name)

        def timed(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, query, *args, **kwargs)
            finally:
                _db_time[0] += time.perf_counter() - started
                text = query if isinstance(query, str) else str(query)
                key = " ".join(text.split())[:110]
                _calls[f"{name[:7]} {key}"] += 1
                if name == "executemany" and args:
                    _rows[f"{name[:7]} {key}"] += len(args[0])

        setattr(cursor, name, timed)

    for name in ("execute", "executemany"):
        wrap(name)
    _count_waits()


_waits = [0]


def _count_waits() -> None:
    """Round trips: a statement outside a pipeline, or a pipeline's fetch or end (a sync; an
    executemany outside a pipeline runs in one of its own)."""
    cursor, pipeline = psycopg.Cursor, psycopg.Pipeline
    execute, fetch, leave = cursor.execute, cursor._fetch_pipeline, pipeline.__exit__

    def counted_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._conn._pipeline is None:
            _waits[0] += 1
        return execute(self, *args, **kwargs)

    def counted_fetch(self: Any) -> None:
        if self._execmany_returning is not False and not self.pgresult and self._conn._pipeline:
            _waits[0] += 1
        fetch(self)

    def counted_leave(self: Any, *args: Any) -> None:
        if self.level == 1:
            _waits[0] += 1
        leave(self, *args)

    cursor.execute, cursor._fetch_pipeline = counted_execute, counted_fetch  # type: ignore[method-assign]
    pipeline.__exit__ = counted_leave  # type: ignore[method-assign]


def _copy(admin: str, source: str) -> tuple[str, str]:
    name = f"slaflow_prof_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return name, admin.rsplit("/", 1)[0] + f"/{name}"


def _sweep(url: str, profile: cProfile.Profile | None) -> dict[str, Any]:
    from engine.timers import sweep
    from runtime.company import load_company
    from runtime.settings import EXAMPLE_COMPANY
    from storage.db import make_engine, session_factory

    company = load_company(EXAMPLE_COMPANY)
    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as session:  # (one thread: the pool hands the sweep this same connection)
        backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    server = cpu_seconds(backend)
    _calls.clear()
    _rows.clear()
    _db_time[0] = 0.0
    _waits[0] = 0
    cpu, started = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    result = sweep(factory, company, now=bench.SIM_NOW, owner="prof", batch=bench.BATCH, max_batches=10_000)
    if profile is not None:
        profile.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_after = cpu_seconds(backend)
    engine.dispose()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "server_cpu_s": server_after - server,
        "db_s": _db_time[0],
        "fired": result.fired_total,
        "failed": result.failed,
        "round_trips": _waits[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=20_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--pg", default=os.environ.get("SLAFLOW_TEST_PG_URL"))
    parser.add_argument("--cprofile", default=None, help="write a cProfile of a second sweep here")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--wall", action="store_true", help="profile wall time (waits on the server) instead of CPU")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = bench.build_template(Path(tmp))
    specs = [bench.open_cases(template, args.open), *bench.due_cases(template, args.due)]
    database = bench.PgDatabase(args.pg)
    with database as url:
        bench.load_postgres(url, template, specs)
        with psycopg.connect(database.admin, autocommit=True) as conn:  # no session may use the template
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database.name,))
        _instrument()
        name, copy = _copy(database.admin, database.name)
        try:
            figures = _sweep(copy, None)
        finally:
            _drop_pg(database.admin, name)
        fired = max(1, figures["fired"])
        server = figures["server_cpu_s"]
        print(
            f"wall {figures['wall_s']:.2f}s, process CPU {figures['cpu_s']:.2f}s, in the driver "
            f"{figures['db_s']:.2f}s, server backend CPU {'?' if server is None else f'{server:.2f}s'}; "
            f"fired {figures['fired']}, failed {figures['failed']}"
        )
        figures["cpu_ms_per_timer"] = round(figures["cpu_s"] * 1000 / fired, 3)
        if server is not None:
            figures["server_cpu_ms_per_timer"] = round(server * 1000 / fired, 3)
        print("driver calls per fired timer (rows for executemany):")
        for key, count in _calls.most_common():
            extra = f" ({_rows[key] / fired:.2f} rows)" if key in _rows else ""
            print(f"  {count / fired:6.3f}{extra}  {key}")
        figures["calls_per_timer"] = round(sum(_calls.values()) / fired, 2)
        figures["round_trips_per_timer"] = round(figures["round_trips"] / fired, 3)
        if args.cprofile:
            name, copy = _copy(database.admin, database.name)
            profile = cProfile.Profile(time.perf_counter if args.wall else time.process_time)
            try:
                _sweep(copy, profile)
            finally:
                _drop_pg(database.admin, name)
            profile.dump_stats(args.cprofile)
            pstats.Stats(args.cprofile).sort_stats("tottime").print_stats(args.top)
            pstats.Stats(args.cprofile).sort_stats("cumulative").print_stats(args.top)
    print(
        json.dumps(
            {
                "bench": "timers_profile",
                "open": args.open,
                "due": args.due,
                **{k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
