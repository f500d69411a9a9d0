"""Report benchmark: a year of closed cases (1,000,000 by default) with their step and whole-case
clocks, breaches and the lead disputes' deciding events, bulk-loaded (executemany in big
transactions on SQLite, COPY on PostgreSQL); then the per-department report for one quarter,
timed in a fresh subprocess that also reports its peak RSS.

    .venv/bin/python bench/reports.py --quick                 # 100,000 cases, well under a minute
    .venv/bin/python bench/reports.py                         # 1,000,000 cases
    .venv/bin/python bench/reports.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/reports.py --compare-indexes       # also time without the indexes
    .venv/bin/python bench/reports.py --keep /tmp/bench-keep    # keep the data; the next run reuses it

PostgreSQL runs when ``--pg`` or ``SLAFLOW_TEST_PG_URL`` gives a server: a fresh database is
created for the run and dropped after it. With ``--keep DIR`` both are kept instead (the SQLite
file in DIR, the PostgreSQL database ``bench_reports_<cases>_<seed>``, or ``--name``) and a later run
with the same cases, seed and name measures them again without generating (after migrating them to the newest schema);
``--drop`` removes them. After the load the report indexes are rebuilt, as the weekly
``rebuild-indexes`` deployment (``slaflow reindex``) does: a load, like a working company, leaves
the indexes led by a department half full on PostgreSQL (``--no-rebuild`` measures them so).
The migrations create the report indexes (0002: the
period's clocks, REPORT_INDEX; 0012: the same by department, and the open clocks; 0015: the ledger's,
by requester and department), so the bulk load
maintains them; after loading the bench analyses the tables (and vacuums PostgreSQL's, as
autovacuum would, for index-only scans). ``--compare-indexes`` times the report once more before
that. Timers, participants and the events of other case types are not generated (the reports do
not read them). The last line printed is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # replace the script's folder: bench/calendar.py would shadow the stdlib's

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import closing  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from sqlalchemy import bindparam, create_engine, inspect, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from engine import versions  # noqa: E402
from org.chart import Company  # noqa: E402
from runtime.company import load_company  # noqa: E402
from runtime.settings import EXAMPLE_COMPANY  # noqa: E402
from sla.model import ClockKind, ClockStatus  # noqa: E402
from storage.db import make_engine, migrate, normalise_url, session_factory  # noqa: E402

TARGET_S = 1.0
TARGET_MB = 500.0
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
MSK = ZoneInfo("Europe/Moscow")
QUARTER = (datetime(2025, 4, 1, tzinfo=MSK), datetime(2025, 7, 1, tzinfo=MSK))
CHUNK = 20_000
"""Cases generated and inserted per batch (one transaction each on SQLite)."""

REPORT_INDEX = "kind, started_at, department, status, used_minutes, target_minutes, stopped_at, case_id"
"""The index the report queries need (docs/reports.md has it as SQLAlchemy ``Index(...)``): the
period's clocks in ``started_at`` order with every column the aggregates read, so both databases
answer from the index alone. PostgreSQL also gets ``id`` (the join to breaches); SQLite has the
rowid in every index already."""


# --------------------------------------------------------------------------------------------
# What a year looks like


@dataclass(frozen=True)
class Step:
    state: str
    department: str
    target: float
    """Business minutes."""


@dataclass(frozen=True)
class Kind:
    """A case type's usual path, its share of the cases and how its cases end."""

    name: str
    share: float
    requester: str
    target: float | None
    path: tuple[Step, ...]
    ends: tuple[tuple[str, int, float], ...]
    """(terminal state, steps taken, weight): a case ends after that many steps of the path."""
    events: dict[str, str] = field(default_factory=dict)
    """Deciding trigger by terminal state (events are generated for lead disputes only)."""


def _s(state: str, department: str, hours: float) -> Step:
    return Step(state, department, hours * 60)


KINDS = (
    Kind(
        "return",
        0.30,
        "sales",
        2400,
        (_s("inspection", "warehouse", 8), _s("collection", "logistics", 16), _s("refund", "accounting", 8)),
        (("closed", 3, 0.85), ("rejected", 1, 0.10), ("withdrawn", 1, 0.05)),
    ),
    Kind(
        "rush_delivery",
        0.15,
        "sales",
        1440,
        (
            _s("slot_confirmation", "logistics", 2),
            _s("picking", "warehouse", 2),
            _s("delivery", "logistics", 8),
            _s("confirmation", "sales", 4),
        ),
        (("delivered", 4, 0.9), ("declined", 1, 0.1)),
    ),
    Kind(
        "reservation",
        0.15,
        "sales",
        None,
        (_s("approval", "sales", 4), _s("reserving", "warehouse", 4), _s("prepayment_check", "accounting", 8)),
        (("converted", 3, 0.6), ("released", 2, 0.25), ("rejected", 1, 0.15)),
    ),
    Kind(
        "lead_dispute",
        0.10,
        "sales",
        1440,
        (_s("review", "marketing", 8), _s("arbitration", "commercial", 16)),
        (("accepted", 1, 0.42), ("accepted", 2, 0.18), ("kept", 2, 0.30), ("withdrawn", 1, 0.10)),
    ),
    Kind(
        "replacement",
        0.10,
        "sales",
        2880,
        (
            _s("diagnosis", "quality", 8),
            _s("picking", "warehouse", 4),
            _s("delivery", "logistics", 16),
            _s("confirmation", "sales", 8),
        ),
        (("done", 4, 0.85), ("declined", 1, 0.15)),
    ),
    Kind(
        "picking_error",
        0.10,
        "sales",
        1920,
        (_s("check", "warehouse", 4), _s("shipping", "logistics", 16), _s("confirmation", "sales", 8)),
        (("resolved", 3, 0.8), ("rejected", 1, 0.2)),
    ),
    Kind(
        "price_approval",
        0.10,
        "sales",
        480,
        (_s("margin_check", "accounting", 4), _s("approval", "commercial", 4)),
        (("approved", 2, 0.75), ("refused", 1, 0.25)),
    ),
)
PACE = {
    "warehouse": 0.45,
    "logistics": 0.55,
    "accounting": 0.40,
    "sales": 0.35,
    "marketing": 0.50,
    "commercial": 0.30,
    "quality": 0.50,
    "purchasing": 0.60,
}
"""Median share of the target a department's steps take (lognormal, sigma 0.6): 0.45 misses
about 9% of deadlines, 0.55 about 16%."""
LEAD_TRIGGER = {("accepted", 1): "accept", ("accepted", 2): "rule_for_sales", ("kept", 2): "rule_for_marketing"}


class Stamps:
    """Minute-resolution instants as the text each database stores, formatted once per minute."""

    def __init__(self, minutes: int) -> None:
        base = YEAR_START.replace(tzinfo=None)
        self.sqlite = [(base + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:%S.000000") for m in range(minutes)]
        self.pg = [stamp[:19] + "+00" for stamp in self.sqlite]


@dataclass
class Batch:
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    breaches: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


CASE_COLUMNS = (
    "id, case_type, definition_fingerprint, state, data, requester, performer, version, "
    "opened_at, updated_at, closed_at"
)
CLOCK_COLUMNS = (
    "id, case_id, kind, state, event_seq, department, role, person, calendar, calendar_fingerprint, target_minutes, "
    "warn_fraction, started_at, running_since, deadline_at, warn_at, used_minutes, paused_since, stopped_at, status, "
    "requester, case_opened_at"
)
BREACH_COLUMNS = (
    "id, case_id, clock_id, kind, department, person, state, deadline_at, breached_at, detected_at, closed_at, "
    "late_minutes"
)
EVENT_COLUMNS = "id, case_id, seq, at, actor, trigger, from_state, to_state, payload, source"


def _open_minute(rng: random.Random) -> int:
    """A working-day minute of the year (Mon-Fri, 06:00-15:00 UTC = 09:00-18:00 Moscow), with an
    autumn peak and a summer dip."""
    while True:
        day = rng.randrange(365)
        weekday = (YEAR_START + timedelta(days=day)).weekday()
        season = 1 + 0.3 * math.sin(2 * math.pi * (day - 170) / 365)
        if weekday < 5 and rng.random() < season / 1.3:
            return day * 1440 + 360 + rng.randrange(540)


def generate(
    n_cases: int, fingerprints: dict[str, str], calendars: dict[str, tuple[str, str]], seed: int
) -> Iterator[Batch]:
    """Batches of rows (timestamps as minute indexes into `Stamps`) for ``n_cases`` closed cases."""
    rng = random.Random(seed)
    weights = [kind.share for kind in KINDS]
    clock_id = breach_id = event_id = 0
    batch = Batch()
    # Ids grow with time, as in a real database: a period's rows sit together.
    opening = sorted(_open_minute(rng) for _ in range(n_cases))
    for case_id, opened in enumerate(opening, start=1):
        kind = rng.choices(KINDS, weights)[0]
        state, taken, _ = rng.choices(kind.ends, [end[2] for end in kind.ends])[0]
        now = opened
        used_total = 0.0
        case_clock = clock_id = clock_id + 1
        for seq, step in enumerate(kind.path[:taken], start=2):
            clock_id += 1
            used = round(step.target * PACE[step.department] * rng.lognormvariate(0, 0.6), 1)
            wall = max(1, int(used * rng.uniform(2.0, 4.5)))
            deadline = now + int(step.target * 3.2)
            status = ClockStatus.BREACHED if used > step.target else ClockStatus.MET
            calendar, calendar_fp = calendars[step.department]
            batch.clocks.append(
                (clock_id, case_id, ClockKind.STEP, step.state, seq - 1, step.department, None, None, calendar,
                 calendar_fp, step.target, 0.75, now, now, deadline, now + int(step.target * 2.4), used, None,
                 now + wall, status, kind.requester, opened)
            )  # fmt: skip
            if status == ClockStatus.BREACHED:
                breach_id += 1
                batch.breaches.append(
                    (breach_id, case_id, clock_id, ClockKind.STEP, step.department, None, step.state, deadline,
                     deadline, deadline, now + wall, round(used - step.target, 1))
                )  # fmt: skip
            used_total += used
            now += wall
        used_total = round(used_total * rng.uniform(1.0, 1.15), 1)
        calendar, calendar_fp = calendars[kind.requester]
        case_deadline = None if kind.target is None else opened + int(kind.target * 3.2)
        late = kind.target is not None and used_total > kind.target
        batch.clocks.append(
            (case_clock, case_id, ClockKind.WHOLE_CASE, None, 1, kind.requester, None, None, calendar, calendar_fp,
             kind.target, 0.75, opened, opened, case_deadline,
             None if case_deadline is None else opened + int((kind.target or 0) * 2.4), used_total, None, now,
             ClockStatus.BREACHED if late else ClockStatus.MET, kind.requester, opened)
        )  # fmt: skip
        if late:
            breach_id += 1
            batch.breaches.append(
                (breach_id, case_id, case_clock, ClockKind.WHOLE_CASE, kind.requester, None, None, case_deadline,
                 case_deadline, case_deadline, now, round(used_total - (kind.target or 0), 1))
            )  # fmt: skip
        data = "{}"
        trigger = LEAD_TRIGGER.get((state, taken)) if kind.name == "lead_dispute" else None
        if kind.name == "lead_dispute":
            data = json.dumps({"lead_id": f"LD-{rng.randrange(max(1, n_cases // 12))}", "reason": "non-target"})
        if trigger is not None:
            event_id += 1
            batch.events.append(
                (event_id, case_id, taken + 1, now, "bench", trigger, kind.path[taken - 1].state, state, "{}", "bench")
            )
        batch.cases.append(
            (case_id, kind.name, fingerprints[kind.name], state, data, kind.requester, kind.path[0].department,
             taken + 1, opened, now, now)
        )  # fmt: skip
        if len(batch.cases) >= CHUNK:
            yield batch
            batch = Batch()
    if batch.cases:
        yield batch


TIME_COLUMNS = {
    "cases": (8, 9, 10),
    "clocks": (12, 13, 14, 15, 18, 21),
    "breaches": (7, 8, 9, 10),
    "events": (3,),
}


def _stamped(rows: list[tuple[Any, ...]], columns: tuple[int, ...], stamps: list[str]) -> list[tuple[Any, ...]]:
    wanted = set(columns)
    return [tuple(stamps[v] if i in wanted and v is not None else v for i, v in enumerate(row)) for row in rows]


# --------------------------------------------------------------------------------------------
# Loading


def register_versions(url: str, company: Company) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Case-type and calendar fingerprints, stored the engine's way (the clocks reference them)."""
    engine = make_engine(url)
    fingerprints: dict[str, str] = {}
    calendars: dict[str, tuple[str, str]] = {}
    with session_factory(engine).begin() as session:
        for kind in KINDS:
            fingerprints[kind.name] = versions.register_definition(session, company.case_type(kind.name), YEAR_START)
        for department in company.config.departments:
            calendar = company.calendar_of(department)
            calendars[department] = (calendar.name, versions.register_calendar(session, calendar, YEAR_START))
    engine.dispose()
    return fingerprints, calendars


def load_sqlite(path: Path, n_cases: int, stamps: Stamps, company: Company, seed: int) -> float:
    url = f"sqlite:///{path}"
    migrate(url)
    fingerprints, calendars = register_versions(url, company)
    began = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    marks = {"cases": CASE_COLUMNS, "clocks": CLOCK_COLUMNS, "breaches": BREACH_COLUMNS, "events": EVENT_COLUMNS}
    tables = {"cases": "cases", "clocks": "sla_clocks", "breaches": "breaches", "events": "case_events"}
    for batch in generate(n_cases, fingerprints, calendars, seed):
        conn.execute("BEGIN")
        for key, table in tables.items():
            rows = _stamped(getattr(batch, key), TIME_COLUMNS[key], stamps.sqlite)
            places = ", ".join("?" * len(marks[key].split(",")))
            conn.executemany(f"INSERT INTO {table} ({marks[key]}) VALUES ({places})", rows)
        conn.execute("COMMIT")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.close()
    return time.perf_counter() - began


def load_pg(url: str, n_cases: int, stamps: Stamps, company: Company, seed: int) -> float:
    import psycopg

    migrate(url)
    fingerprints, calendars = register_versions(url, company)
    began = time.perf_counter()
    tables = {
        "cases": ("cases", CASE_COLUMNS),
        "clocks": ("sla_clocks", CLOCK_COLUMNS),
        "breaches": ("breaches", BREACH_COLUMNS),
        "events": ("case_events", EVENT_COLUMNS),
    }
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for batch in generate(n_cases, fingerprints, calendars, seed):
            with conn.cursor() as cursor:
                for key, (table, columns) in tables.items():
                    rows = _stamped(getattr(batch, key), TIME_COLUMNS[key], stamps.pg)
                    buffer = io.StringIO()
                    for row in rows:
                        buffer.write("\t".join(r"\N" if v is None else str(v) for v in row))
                        buffer.write("\n")
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(buffer.getvalue())
            conn.commit()
        for table in ("cases", "sla_clocks", "breaches", "case_events"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    return time.perf_counter() - began


def add_indexes(url: str) -> None:
    create = f"CREATE INDEX IF NOT EXISTS ix_sla_clocks_report ON sla_clocks ({REPORT_INDEX})"
    if url.startswith("sqlite"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(create))
            conn.execute(text("ANALYZE"))
    else:
        engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(create + " INCLUDE (id)"))
            # VACUUM sets the visibility map (as autovacuum would), so index-only scans work.
            conn.execute(text("VACUUM ANALYZE"))
            # The load and the vacuum leave GBs of dirty pages: written out now, as a checkpoint
            # would have long before anyone reads a quarter, not during the first timed report.
            # (The first report after a load stays slow on this machine, 3.0-3.9 s against
            # 0.8-1.3 s for the next: it reads its pages from disk, README's reports row.)
            conn.execute(text("CHECKPOINT"))
    engine.dispose()


def analyze(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("cases", "sla_clocks", "breaches")
        }
    engine.dispose()
    return counts


# --------------------------------------------------------------------------------------------
# Measuring (in a subprocess, so its peak RSS is the report's alone)


def peak_rss_mb() -> float:
    """Peak RSS of this process. VmHWM belongs to the address space made by exec; ru_maxrss on
    Linux keeps the parent's peak across fork and exec (here: the generator's), so it is only
    the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, repeat: int) -> dict[str, Any]:
    """Run inside the child: the per-department report (`department_rows`) and the whole report
    (`build_report`), ``repeat`` times each (the first run counts as the cold one), then once
    more under tracemalloc for the Python memory the report allocates at its peak."""
    from leads.report import lead_departments
    from reports.departments import department_rows
    from reports.report import build_report
    from reports.scope import Scope

    company = load_company(EXAMPLE_COMPANY)
    leads = lead_departments(company)
    engine = make_engine(url)
    factory = session_factory(engine)
    scope = Scope(*QUARTER)
    with factory() as session:  # connect and load the dialect before the baseline
        session.execute(text("SELECT 1"))
    baseline = peak_rss_mb()
    department_s, full_s, floor_s, rows = [], [], [], 0
    for _ in range(repeat):  # alternating with the floor, so both see the same machine
        with factory() as session:
            began = time.perf_counter()
            rows = len(department_rows(session, scope))
            department_s.append(time.perf_counter() - began)
        floor_s.append(floor(engine, scope))
    for _ in range(repeat):
        with factory() as session:
            began = time.perf_counter()
            build_report(session, company, since=QUARTER[0], until=QUARTER[1], now=QUARTER[1], lead_departments=leads)
            full_s.append(time.perf_counter() - began)
    peak = peak_rss_mb()
    tracemalloc.start()
    with factory() as session:
        build_report(session, company, since=QUARTER[0], until=QUARTER[1], now=QUARTER[1], lead_departments=leads)
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    engine.dispose()
    return {
        "department_s": department_s,
        "floor_s": floor_s,
        "full_s": full_s,
        "departments": rows,
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(peak, 1),
        "python_peak_mb": round(python_peak, 2),
    }


def profile(url: str) -> list[dict[str, Any]]:
    """Run inside the child: where one per-department report spends its time, statement by
    statement. Each statement is charged the wall and process CPU time from its start to the next statement's
    (SQLite computes a result while it is fetched: the fetch and the Python work on the rows are
    the statement's too), and named by the report function that ran it."""
    import traceback

    from sqlalchemy import event

    from reports.departments import department_rows
    from reports.scope import Scope

    engine = make_engine(url)
    factory = session_factory(engine)
    scope = Scope(*QUARTER)
    with factory() as session:  # warm: the same cache as the measured runs
        department_rows(session, scope)
    marks: list[tuple[float, float, str, str]] = []

    def started(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        frames = [f for f in traceback.extract_stack() if "/reports/" in f.filename or "/sla/" in f.filename]
        where = f"{Path(frames[-1].filename).stem}.{frames[-1].name}:{frames[-1].lineno}" if frames else "?"
        marks.append((time.perf_counter(), time.process_time(), where, " ".join(statement.split())[:160]))

    event.listen(engine, "before_cursor_execute", started)
    with factory() as session:
        began, began_cpu = time.perf_counter(), time.process_time()
        department_rows(session, scope)
        ended, ended_cpu = time.perf_counter(), time.process_time()
    event.remove(engine, "before_cursor_execute", started)
    engine.dispose()
    found = []
    for i, (start, cpu, where, sql) in enumerate(marks):
        stop, stop_cpu = (marks[i + 1][0], marks[i + 1][1]) if i + 1 < len(marks) else (ended, ended_cpu)
        found.append({"s": round(stop - start, 4), "cpu_s": round(stop_cpu - cpu, 4), "at": where, "sql": sql})
    first, first_cpu = (marks[0][0], marks[0][1]) if marks else (ended, ended_cpu)
    found.append({"s": round(first - began, 4), "cpu_s": round(first_cpu - began_cpu, 4),
                  "at": "before the first statement", "sql": ""})
    found.append({"s": round(ended - began, 4), "cpu_s": round(ended_cpu - began_cpu, 4), "at": "total", "sql": ""})
    return sorted(found, key=lambda item: -item["s"])


FLOOR_SQL = (
    "SELECT department, count(*), sum(used_minutes) FROM sla_clocks "
    "WHERE kind = :kind AND started_at >= :since AND started_at < :until GROUP BY department"
)
"""The floor: one bare GROUP BY over the period's step clocks (the rows the report aggregates, read
from the same index), no Python around it."""


def floor(engine: Any, scope: Any) -> float:
    """Seconds the floor query takes, rows fetched (timestamps bound the way the model stores them)."""
    from storage.models import SlaClock

    started_at = SlaClock.__table__.c.started_at
    statement = text(FLOOR_SQL).bindparams(
        bindparam("since", type_=started_at.type), bindparam("until", type_=started_at.type)
    )
    with engine.connect() as conn:
        began = time.perf_counter()
        conn.execute(statement, {"kind": str(ClockKind.STEP), "since": scope.since, "until": scope.until}).fetchall()
        return time.perf_counter() - began


def run_measure(url: str, repeat: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--measure", url, "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def summary(label: str, measured: dict[str, Any]) -> str:
    dep, full = measured["department_s"], measured["full_s"]
    return (
        f"{label}: per-department report {dep[0]:.2f} s first, {statistics.median(dep):.2f} s median; "
        f"floor (bare GROUP BY) {statistics.median(measured['floor_s']):.3f} s median; "
        f"whole report {full[0]:.2f} s first, {statistics.median(full):.2f} s median; "
        f"peak RSS {measured['peak_mb']:.0f} MB (after imports and connecting {measured['baseline_mb']:.0f} MB; "
        f"Python allocations of one whole report at most {measured['python_peak_mb']:.1f} MB)"
    )


def loaded(url: str, n_cases: int) -> bool:
    """Whether a kept database holds the whole data set (a load commits per batch: a smaller
    count is an interrupted load). Only a missing database or schema means "not kept": any other
    error propagates, since the caller then deletes the data set and generates it again (a
    SQLite file whose write lock another process held for the busy timeout was taken for
    empty, deleted and regenerated). SQLite is read without a transaction: a read needs no lock."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return False
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cases'").fetchone() is None:
                return False
            return bool(conn.execute("SELECT count(*) FROM cases").fetchone()[0] == n_cases)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("cases"):
                return False
            return bool(conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == n_cases)
    except OperationalError as error:
        if "does not exist" in str(error):  # the database itself (PostgreSQL)
            return False
        raise
    finally:
        engine.dispose()


def bench_backend(label: str, url: str, load: Any, args: argparse.Namespace, *, reuse: bool = False) -> dict[str, Any]:
    gen_s = None
    if reuse:
        migrate(url)  # a kept database gets the migrations added since it was built
        print(f"{label}: reusing the kept database", flush=True)
    else:
        gen_s = load()
    analyze(url)
    counts = row_counts(url)
    print(f"{label}: generated {counts}" + ("" if gen_s is None else f" in {gen_s:.1f} s"), flush=True)
    before = None
    if args.compare_indexes:
        before = run_measure(url, args.repeat)
        print(summary(f"{label} without the report indexes", before), flush=True)
    began = time.perf_counter()
    add_indexes(url)
    print(f"{label}: report indexes created in {time.perf_counter() - began:.1f} s", flush=True)
    rebuilt = None
    if not args.no_rebuild:
        rebuilt = rebuild(url)
        print(f"{label}: report indexes rebuilt (`slaflow reindex`) in {rebuilt['seconds']:.1f} s, "
              f"{rebuilt['mb_before']:.0f} MB -> {rebuilt['mb_after']:.0f} MB", flush=True)
    after = run_measure(url, args.repeat)
    print(summary(label, after), flush=True)
    return {"gen_s": gen_s, "rows": counts, "with_indexes": after, "without_indexes": before, "rebuilt": rebuilt}


def rebuild(url: str) -> dict[str, float]:
    """What the weekly `rebuild-indexes` deployment does (`storage.maintenance`): the load left the
    indexes led by a department half full, as a working company's clocks do; then a checkpoint,
    so the first report does not share the disk with the rebuild's writes."""
    from storage.maintenance import rebuild_indexes

    engine = make_engine(url)
    try:
        began = time.perf_counter()
        done = rebuild_indexes(engine)
        seconds = time.perf_counter() - began
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()
    return {"seconds": round(seconds, 1), "mb_before": round(sum(r.bytes_before for r in done) / 2**20, 1),
            "mb_after": round(sum(r.bytes_after for r in done) / 2**20, 1)}


def pg_url(admin_url: str, name: str) -> str:
    return normalise_url(admin_url).rsplit("/", 1)[0] + f"/{name}"


def create_pg_database(admin_url: str, name: str | None = None) -> tuple[str, str]:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    name = name or f"slaflow_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, pg_url(admin_url, name)


def drop_pg_database(admin_url: str, name: str) -> None:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_backends(args: argparse.Namespace, n_cases: int, company: Company, stamps: Stamps) -> dict[str, Any]:
    """Generate (or reuse, with ``--keep``) and measure each backend; ``--drop`` only drops the kept ones."""
    results: dict[str, Any] = {}
    pg_admin = None if args.no_pg else (args.pg or os.environ.get("SLAFLOW_TEST_PG_URL"))
    kept_name = args.name or f"bench_reports_{n_cases}_{args.seed}"
    if args.drop:
        if args.keep:
            (args.keep / f"{kept_name}.db").unlink(missing_ok=True)
        if pg_admin:
            drop_pg_database(pg_admin, kept_name)
        return results
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-reports-") as tmp:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        db = (args.keep or Path(tmp)) / f"{kept_name}.db"
        if not args.no_sqlite:
            reuse = args.keep is not None and db.exists() and loaded(f"sqlite:///{db}", n_cases)
            if not reuse:
                db.unlink(missing_ok=True)
            results["sqlite"] = bench_backend(
                "SQLite",
                f"sqlite:///{db}",
                lambda: load_sqlite(db, n_cases, stamps, company, args.seed),
                args,
                reuse=reuse,
            )
    if pg_admin:
        reuse = args.keep is not None and loaded(pg_url(pg_admin, kept_name), n_cases)
        if args.keep and not reuse:
            drop_pg_database(pg_admin, kept_name)
        name, url = (
            (kept_name, pg_url(pg_admin, kept_name))
            if reuse
            else create_pg_database(pg_admin, kept_name if args.keep else None)
        )
        try:
            results["postgresql"] = bench_backend(
                "PostgreSQL", url, lambda: load_pg(url, n_cases, stamps, company, args.seed), args, reuse=reuse
            )
        finally:
            if not args.keep:
                drop_pg_database(pg_admin, name)

    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 cases instead of 1,000,000")
    parser.add_argument("--cases", type=int, help="number of cases to generate")
    parser.add_argument("--pg", help="PostgreSQL server URL (default: $SLAFLOW_TEST_PG_URL)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--compare-indexes", action="store_true", help="also time the report before the indexes")
    parser.add_argument("--no-rebuild", action="store_true",
                        help="measure the indexes as the load left them (no `slaflow reindex` first)")
    parser.add_argument("--repeat", type=int, default=3, help="report runs per measurement")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", metavar="DIR", type=Path, help="keep the databases (and reuse kept ones)")
    parser.add_argument("--drop", action="store_true", help="with --keep: drop the kept databases and stop")
    parser.add_argument("--name", help="the kept data set's name (default: bench_reports_<cases>_<seed>)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--profile", metavar="URL", help="time each statement of one per-department report on URL")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return
    if args.profile:
        for item in profile(args.profile):
            print(f"{item['s']:8.4f} s {item['cpu_s']:8.4f} s CPU  {item['at']:45}  {item['sql'][:110]}")
        return

    n_cases = args.cases or (100_000 if args.quick else 1_000_000)
    company = load_company(EXAMPLE_COMPANY)
    stamps = Stamps(minutes=int(1.25 * 365 * 1440))
    results = run_backends(args, n_cases, company, stamps)
    if not results:
        return

    def worst(backend: str) -> float | None:
        if backend not in results:
            return None
        measured = results[backend]["with_indexes"]
        return round(float(max(measured["department_s"][0], statistics.median(measured["department_s"]))), 3)

    def floor_of(backend: str) -> float | None:
        if backend not in results:
            return None
        return round(float(statistics.median(results[backend]["with_indexes"]["floor_s"])), 3)

    def gen_of(backend: str) -> float | None:
        gen_s = results[backend]["gen_s"] if backend in results else None
        return None if gen_s is None else round(float(gen_s), 1)

    def full_of(backend: str) -> float | None:
        if backend not in results:
            return None
        return round(float(statistics.median(results[backend]["with_indexes"]["full_s"])), 3)

    peak = max(results[b]["with_indexes"]["peak_mb"] for b in results)
    sqlite_s, pg_s = worst("sqlite"), worst("postgresql")
    timed = [s for s in (sqlite_s, pg_s) if s is not None]
    line = {
        "bench": "reports",
        "cases": n_cases,
        "quick": args.quick,
        "period": "2025-Q2 (Moscow)",
        "sqlite_gen_s": gen_of("sqlite"),
        "pg_gen_s": gen_of("postgresql"),
        "reused": args.keep is not None and all(results[b]["gen_s"] is None for b in results),
        "indexes_rebuilt": not args.no_rebuild,
        "sqlite_s": sqlite_s,
        "pg_s": pg_s,
        "sqlite_floor_s": floor_of("sqlite"),
        "pg_floor_s": floor_of("postgresql"),
        "sqlite_floor_ratio": None if sqlite_s is None else round(sqlite_s / (floor_of("sqlite") or 1e-9), 1),
        "pg_floor_ratio": None if pg_s is None else round(pg_s / (floor_of("postgresql") or 1e-9), 1),
        "sqlite_full_report_s": full_of("sqlite"),
        "pg_full_report_s": full_of("postgresql"),
        "peak_mb": peak,
        "target_s": TARGET_S,
        "target_mb": TARGET_MB,
        "ok": bool(timed) and all(s < TARGET_S for s in timed) and peak < TARGET_MB,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
