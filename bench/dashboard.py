"""Dashboard benchmark: the pages people read, over real HTTP from a real uvicorn server, with
100,000 open and 1,000,000 closed cases, on SQLite and PostgreSQL.

    .venv/bin/python bench/dashboard.py --quick     # 10,000 open / 100,000 closed, a few minutes
    .venv/bin/python bench/dashboard.py             # 100,000 open / 1,000,000 closed

Cases: bench/scope.py's bulk loader (every case type, owners and participants over all
departments, the open ones with their running step clock), plus a few hundred copies of a case
opened by the engine with its whole history (bench/timers.py's template: events, clocks,
timers), whose case pages are the ones read. PostgreSQL gets the same rows (copied from the
SQLite file into a database created for the run, ``slaflow_dash_*``, dropped after it).

Each backend gets its own uvicorn process (one worker, the app's clock fixed at the data's now).
Readers sign in with a password as a browser does: the director (every case) and two department
heads. Pages: the board (/dashboard), the queue (/dashboard/queue), case pages
(/dashboard/cases/N, N cycling over cases the reader may read). Figures are p50/p99 per page
over every reader's requests, sequential (one request at a time).

Also each page's mean CPU time of the server process per request (``*_server_cpu_ms``, from
/proc; PostgreSQL's own work is not in it): it moves much less with the machine's load.

On SQLite the director's board and queue are timed once more while another connection takes the
write lock 20 ms in every 25 (``board_p99_ms_while_writing``, ``queue_p99_ms_while_writing``), as
the inbox processor does during a CRM burst: a page that took the lock too would queue behind it.

Floors, measured in the same run: the same server answering /health/live over the same
connection (``floor_http_p99_ms``) and the board's bare main query without scope or Python work
(``floor_sql_ms``: the 500 nearest-deadline open cases, straight SQL). On this shared machine
every figure moves with them. The last line printed is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # replace the script's folder: bench/calendar.py would shadow the stdlib's

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from bench import scope as scope_bench  # noqa: E402
from bench import timers as timers_bench  # noqa: E402
from bench.lock_holder import LockHolder  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402

TARGETS_MS = {"board_p99_ms": 150.0, "queue_p99_ms": 150.0, "case_p99_ms": 100.0}
READERS = {"orlov": "director", "kuznetsova": "head of sales", "smirnov": "head of warehouse"}
PASSWORD = "bench-dashboard-password"
HISTORY_CASES = 300
"""Copies of the engine-opened case (full history); their pages are the case pages read."""
SERVE = "--serve-child"


# --------------------------------------------------------------------------- data


def load_sqlite(path: Path, workdir: Path, n_open: int, n_closed: int) -> int:
    """scope.py's bulk cases, then HISTORY_CASES engine-made cases opened 1-5 h before NOW."""
    from runtime.company import load_company
    from runtime.settings import EXAMPLE_COMPANY

    total = n_open + n_closed
    seconds = scope_bench.load(path, total, load_company(EXAMPLE_COMPANY), seed=20, open_share=n_open / total)
    print(f"bulk: {total:,} cases in {seconds:.0f} s", file=sys.stderr)
    template = timers_bench.build_template(workdir)
    spec = timers_bench.Spec(HISTORY_CASES, lambda k: scope_bench.NOW - timedelta(hours=5, seconds=-37 * k))
    timers_bench.load_sqlite(path, template, [spec], first_case=total)
    return total


def copy_to_postgres(sqlite_path: Path, url: str) -> None:
    """The SQLite file's rows into a migrated PostgreSQL database (COPY, FK triggers off)."""
    import psycopg

    from storage.models import Base, UtcDateTime

    source = sqlite3.connect(sqlite_path)
    with psycopg.connect(timers_bench._libpq(url)) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        for table in Base.metadata.sorted_tables:
            if table.name == "alembic_version" or not source.execute(f"select 1 from {table.name} limit 1").fetchone():
                continue
            cursor = source.execute(f"select * from {table.name}")
            names = [d[0] for d in cursor.description]
            stamps = {i for i, name in enumerate(names) if isinstance(table.columns[name].type, UtcDateTime)}
            with cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                while batch := cursor.fetchmany(20_000):
                    copy.write(
                        "".join(
                            "\t".join(
                                timers_bench._copy_text(f"{v}+00" if i in stamps and v is not None else v)
                                for i, v in enumerate(row)
                            )
                            + "\n"
                            for row in batch
                        )
                    )
            if "id" in names:
                cur.execute(
                    f"select setval(pg_get_serial_sequence('{table.name}', 'id'), (select max(id) from {table.name}))"
                )
        conn.commit()
    source.close()
    with psycopg.connect(timers_bench._libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def readable_cases(url: str, person: str, count: int, first_history: int) -> list[int]:
    """Case pages a reader reads: history cases and bulk cases (open and closed) in their scope."""
    from sqlalchemy import select

    from org.actors import person_scope
    from org.scope import case_filter
    from runtime.company import load_company
    from runtime.settings import EXAMPLE_COMPANY
    from storage.db import make_engine, session_factory
    from storage.models import Case

    company = load_company(EXAMPLE_COMPANY)
    scope = person_scope(company, person)[1]
    engine = make_engine(url)
    rng = random.Random(person)
    try:
        with session_factory(engine)() as session:
            readable = case_filter(scope, Case.id)
            history = list(session.scalars(select(Case.id).where(Case.id > first_history, readable)))
            bulk = list(
                session.scalars(
                    select(Case.id).where(Case.id <= first_history, readable, Case.id % 997 == 1).limit(5000)
                )
            )
    finally:
        engine.dispose()
    assert history, f"{person} reads none of the history cases"
    half = count // 2
    return rng.sample(history, min(half, len(history))) + rng.sample(bulk, min(count - half, len(bulk)))


def bare_sql_ms(url: str, repeat: int) -> float:
    """The board's main query without scope or Python: the 500 nearest-deadline open cases."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(url)
    query = text("select * from cases where closed_at is null order by due_at, id limit 500")
    runs = []
    try:
        with engine.connect() as conn:
            for _ in range(repeat):
                began = time.perf_counter()
                conn.execute(query).all()
                runs.append(time.perf_counter() - began)
    finally:
        engine.dispose()
    return statistics.median(runs) * 1000


def kept_pg(database: timers_bench.PgDatabase) -> str:
    """``--pg-keep``: the named database, created and migrated when it does not exist yet."""
    import psycopg

    from storage.db import migrate

    with psycopg.connect(database.admin, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (database.name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database.name}"')
    migrate(database.url)
    return database.url


def pg_loaded(url: str) -> bool:
    import psycopg

    with psycopg.connect(timers_bench._libpq(url)) as conn:
        return conn.execute("select exists (select 1 from cases)").fetchone() == (True,)


# --------------------------------------------------------------------------- the server


def serve_child(url: str, config: str, port: int) -> None:
    """The app at the data's now, in uvicorn, as `slaflow serve` runs it (one worker)."""
    import uvicorn

    from api.app import create_app, freeze_startup_objects
    from api.testing import runtime
    from core.clock import SimulatedClock

    app = create_app(runtime(url, Path(config)), SimulatedClock(scope_bench.NOW), environ={})
    freeze_startup_objects()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Server:
    def __init__(self, url: str, config: Path, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / f"uvicorn-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, __file__, SERVE, url, str(config), str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "DO_NOT_TRACK": "1"},
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health/live", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"uvicorn exited: see {self.log.name}")
            time.sleep(0.3)
        raise SystemExit("uvicorn did not answer within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def signed_in(base: str, person: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/login").text)
    assert found, "no CSRF field on the login page"
    answer = client.post(
        "/dashboard/login",
        data={"username": person, "password": PASSWORD, "csrf": found.group(1), "next": ""},
        headers={"Origin": base},
    )
    assert answer.status_code == 303, f"sign-in of {person}: {answer.status_code}"
    return client


def timed_ms(client: httpx.Client, paths: list[str], requests: int) -> list[float]:
    runs = []
    for index in range(requests):
        began = time.perf_counter()
        answer = client.get(paths[index % len(paths)])
        runs.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, f"{paths[index % len(paths)]}: {answer.status_code}"
    return runs


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(url: str, config: Path, workdir: Path, requests: int, first_history: int) -> dict[str, Any]:
    from api.testing import set_passwords

    set_passwords(url, config, {person: PASSWORD for person in READERS})
    cases = {person: readable_cases(url, person, requests, first_history) for person in READERS}
    samples: dict[str, list[float]] = {"floor_http": [], "board": [], "queue": [], "case": []}
    per_reader: dict[str, dict[str, float]] = {}
    cpu_ms = dict.fromkeys(samples, 0.0)
    with Server(url, config, workdir) as server:
        for person, role in READERS.items():
            with contextlib.closing(signed_in(server.base, person)) as client:
                pages = {
                    "floor_http": ["/health/live"],
                    "board": ["/dashboard"],
                    "queue": ["/dashboard/queue"],
                    "case": [f"/dashboard/cases/{n}" for n in cases[person]],
                }
                for page, paths in pages.items():
                    timed_ms(client, paths[-2:], 2)  # warm up: first connection, caches
                    cpu = cpu_seconds(server.process.pid)
                    runs = timed_ms(client, paths, requests)
                    cpu_ms[page] += (cpu_seconds(server.process.pid) - cpu) * 1000
                    samples[page] += runs
                    per_reader.setdefault(role, {})[f"{page}_p99_ms"] = round(p99(runs), 1)
                print(
                    f"  {role:18} " + "  ".join(f"{k} {v:7.1f}" for k, v in per_reader[role].items()), file=sys.stderr
                )
        if url.startswith("sqlite:///"):
            writing = while_writing(Path(url.removeprefix("sqlite:///")), server.base, requests)
    figures: dict[str, Any] = {}
    for page, runs in samples.items():
        figures[f"{page}_p50_ms"] = round(statistics.median(runs), 1)
        figures[f"{page}_p99_ms"] = round(p99(runs), 1)
        figures[f"{page}_server_cpu_ms"] = round(cpu_ms[page] / len(runs), 1)
    figures["floor_sql_ms"] = round(bare_sql_ms(url, 20), 1)
    figures["readers"] = per_reader
    if url.startswith("sqlite:///"):
        figures.update(writing)
    return figures


def while_writing(path: Path, base: str, requests: int) -> dict[str, Any]:
    """The director's board and queue p99 while another connection takes the write lock 20 ms at a
    time (`bench.lock_holder`): a reader that took the lock too would wait for each turn."""
    found: dict[str, Any] = {}
    with contextlib.closing(signed_in(base, "orlov")) as client, LockHolder(path) as holder:
        for page in ("board", "queue"):
            runs = timed_ms(client, ["/dashboard" if page == "board" else "/dashboard/queue"], requests)
            found[f"{page}_p99_ms_while_writing"] = round(p99(runs), 1)
    found["writer_turns"] = holder.turns
    print(f"  while a writer holds the lock 20 ms in 25: {found}", file=sys.stderr)
    return found


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 open / 100,000 closed cases")
    parser.add_argument("--open", type=int, default=None)
    parser.add_argument("--closed", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None, help="per page and reader (default 100, quick 50)")
    parser.add_argument(
        "--pg", default=os.environ.get("SLAFLOW_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="load into this folder and keep it (profiling)")
    parser.add_argument(
        "--pg-keep",
        default=None,
        metavar="NAME",
        help="copy into PostgreSQL database NAME and keep it; reuse it when it holds the cases "
        "(with --keep; drop it yourself: dropdb NAME)",
    )
    args = parser.parse_args()
    n_open = args.open or (10_000 if args.quick else 100_000)
    n_closed = args.closed or (100_000 if args.quick else 1_000_000)
    requests = args.requests or (50 if args.quick else 100)
    result: dict[str, Any] = {
        "benchmark": "dashboard",
        "open": n_open,
        "closed": n_closed,
        "requests_per_page_and_reader": requests,
        "readers": list(READERS.values()),
    }
    from api.testing import write_config

    with tempfile.TemporaryDirectory(prefix="slaflow-bench-dash-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        config = write_config(workdir)
        path = workdir / "dashboard.db"
        if not path.exists():
            began = time.perf_counter()
            first_history = load_sqlite(path, workdir, n_open, n_closed)
            print(f"loaded SQLite in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        else:  # a kept file (--keep): bring it to this code's schema
            from storage.db import migrate

            migrate(f"sqlite:///{path}")
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("ANALYZE")
            first_history = n_open + n_closed
        print("SQLite:", file=sys.stderr)
        result["sqlite"] = measure(f"sqlite:///{path}", config, workdir, requests, first_history)
        if not args.no_pg and timers_bench.pg_reachable(args.pg):
            database = timers_bench.PgDatabase(args.pg)
            database.name = args.pg_keep or f"slaflow_dash_{uuid.uuid4().hex[:8]}"
            database.url = database.admin.rsplit("/", 1)[0] + f"/{database.name}"
            with contextlib.nullcontext(kept_pg(database)) if args.pg_keep else database as url:
                if not args.pg_keep or not pg_loaded(url):
                    began = time.perf_counter()
                    copy_to_postgres(path, url)
                    print(f"copied to PostgreSQL in {time.perf_counter() - began:.0f} s", file=sys.stderr)
                print("PostgreSQL:", file=sys.stderr)
                result["postgresql"] = measure(url, config, workdir, requests, first_history)
    flat: dict[str, Any] = {}
    for backend, prefix in (("sqlite", ""), ("postgresql", "pg_")):
        for key in (
            "board_p99_ms",
            "queue_p99_ms",
            "case_p99_ms",
            "floor_http_p99_ms",
            "floor_sql_ms",
            "board_server_cpu_ms",
            "queue_server_cpu_ms",
            "case_server_cpu_ms",
            "board_p99_ms_while_writing",
            "queue_p99_ms_while_writing",
        ):
            if key in result.get(backend, {}):
                flat[prefix + key] = result[backend][key]
    ok = all(
        flat[prefix + key] < limit
        for prefix in ("", "pg_")
        for key, limit in TARGETS_MS.items()
        if prefix + key in flat
    )
    print(
        json.dumps({**result, **flat, "load_average_1m": round(os.getloadavg()[0], 2), "targets": TARGETS_MS, "ok": ok})
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == SERVE:
        serve_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
