"""Triggers applied and committed per second on the SQLite default, single process, against the
floor: the same rows written with plain ``sqlite3`` (executemany, one transaction per trigger,
the same WAL/synchronous settings), so the ratio is what the engine's logic and ORM cost.

    .venv/bin/python bench/engine.py [--quick] [--cases N]
    .venv/bin/python bench/engine.py --pg [ADMIN_URL] [--quick] [--cases N]

Ends with one JSON line: {"bench": "engine", "triggers_per_s": ..., "floor_per_s": ..., ...}; it
also gives the CPU time per trigger of both loops (``cpu_ms_per_trigger``, ``floor_cpu_ms_per_trigger``),
steadier than wall time on a shared machine.
With ``--pg`` the engine runs on PostgreSQL (own databases, created and dropped on the server
``ADMIN_URL`` names) on one connection, then on four (one process each), against a floor
writing the same rows with psycopg in pipeline mode: {"bench": "engine_pg",
"pg_triggers_per_s_1conn": ..., "pg_triggers_per_s_4conn": ..., "pg_floor_per_s": ..., ...}.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

# Replace (not prepend) the script folder: bench/calendar.py must not shadow the stdlib calendar.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from core.vocabulary import TimerKind  # noqa: E402
from engine import cases  # noqa: E402
from runtime.company import load_company  # noqa: E402
from runtime.settings import EXAMPLE_COMPANY  # noqa: E402
from storage.db import make_engine, migrate, session_factory  # noqa: E402

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from org.chart import Company

START = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
MOVES = [
    ("approve", "popov", {"inspection_notes": "ok"}),
    ("collected", "kozlov", {"waybill": "W"}),
    ("refunded", "morozova", {"document": "CN"}),
]
DATA = {"customer": "c", "order": "o", "reason": "r"}
CONTEXT = json.dumps(
    {
        "case": {"id": 1, "type": "return", "data": DATA, "state": "closed"},
        "person": "x" * 40,
        "company": "y" * 40,
        "links": ["z" * 60] * 4,
    },
    ensure_ascii=False,
)
"""About the size of a message context the engine stores (~1 KB)."""


def engine_run(db: Path, n_cases: int) -> tuple[float, int, dict[str, int], float]:
    """(seconds, triggers, rows after, CPU seconds of this process while firing)."""
    url = f"sqlite:///{db}"
    migrate(url)
    company = load_company(EXAMPLE_COMPANY)
    engine = make_engine(url)
    factory = session_factory(engine)
    ids = open_cases(factory, company, n_cases)
    cpu = time.process_time()
    elapsed, fired = fire_all(factory, company, ids)
    cpu = time.process_time() - cpu
    rows = _row_counts(db)
    engine.dispose()
    return elapsed, fired, rows, cpu


def open_cases(factory: sessionmaker[Session], company: Company, n_cases: int) -> list[int]:
    """``n_cases`` return cases, one transaction each (not timed)."""
    ids = []
    for i in range(n_cases):
        with factory.begin() as session:
            ids.append(
                cases.open_case(
                    session,
                    company,
                    case_type="return",
                    data=DATA,
                    actor=company.actor("ivanov"),
                    now=START + timedelta(seconds=i),
                ).id
            )
    return ids


def fire_all(factory: sessionmaker[Session], company: Company, ids: list[int]) -> tuple[float, int]:
    """Each case through ``MOVES`` (one trigger, one transaction): (seconds, triggers)."""
    actors = {name: company.actor(name) for _, name, _ in MOVES}
    fired = 0
    began = time.perf_counter()
    for step, (trigger, actor, payload) in enumerate(MOVES):
        now = START + timedelta(hours=step + 1)
        for case_id in ids:
            with factory.begin() as session:
                cases.fire(
                    session, company, case_id=case_id, trigger=trigger, actor=actors[actor], payload=payload, now=now
                )
            fired += 1
    return time.perf_counter() - began, fired


def _row_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    counts = {
        t: conn.execute(f"select count(*) from {t}").fetchone()[0]
        for t in ("cases", "case_events", "sla_clocks", "timers", "case_participants")
    }
    conn.close()
    return counts


def floor_run(db: Path, n_cases: int) -> tuple[float, int, float]:
    """The same writes per trigger as the engine makes, in plain sqlite3: update the case, stop the
    step clock, cancel its timers, insert the event, insert the next clock with its warning,
    breach and three escalation timers, add the participant."""
    migrate(f"sqlite:///{db}")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    ts = START.strftime("%Y-%m-%d %H:%M:%S.%f")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("insert into case_type_versions values ('f', 'return', '{}', ?)", (ts,))
    conn.execute("insert into calendar_versions values ('c', 'c', '{}', ?)", (ts,))
    conn.executemany(
        "insert into cases (id, case_type, definition_fingerprint, state, data, requester, performer, "
        "owner_department, version, opened_at, updated_at) values (?, 'return', 'f', 'inspection', ?, 'sales', "
        "'warehouse', 'warehouse', 1, ?, ?)",
        [(i, json.dumps(DATA), ts, ts) for i in range(1, n_cases + 1)],
    )
    conn.execute("COMMIT")
    fired = 0
    clock_id = 0
    began, cpu = time.perf_counter(), time.process_time()
    for step, (trigger, _actor, payload) in enumerate(MOVES):
        for case_id in range(1, n_cases + 1):
            clock_id += 1
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("select id, state, version, data from cases where id = ?", (case_id,)).fetchone()
            conn.execute(
                "update sla_clocks set stopped_at = ?, status = 'met', used_minutes = 60 where id = ?",
                (ts, clock_id - 1),
            )
            conn.execute(
                "update timers set status = 'cancelled' where case_id = ? and state = ? and status = 'pending'",
                (case_id, "s"),
            )
            conn.execute(
                "insert into case_events (case_id, seq, at, actor, trigger, from_state, to_state, payload, "
                "source) values (?, ?, ?, 'a', ?, 'x', 'y', ?, 'bench')",
                (case_id, step + 2, ts, trigger, json.dumps(payload)),
            )
            conn.execute(
                "update cases set state = 'y', data = ?, version = ?, updated_at = ?, due_at = ? "
                "where id = ? and version = ?",
                (json.dumps({**DATA, **payload}), step + 2, ts, ts, case_id, step + 1),
            )
            conn.execute(
                "insert into sla_clocks (id, case_id, kind, state, event_seq, department, calendar, "
                "calendar_fingerprint, target_minutes, warn_fraction, started_at, running_since, deadline_at, "
                "warn_at, used_minutes, status) values (?, ?, 'step', 'y', ?, 'logistics', 'c', 'c', 480, 0.75, "
                "?, ?, ?, ?, 0, 'running')",
                (clock_id, case_id, step + 2, ts, ts, ts, ts),
            )
            conn.executemany(
                "insert into timers (case_id, clock_id, kind, level, state, due_at, status, attempts) "
                "values (?, ?, ?, 0, 'y', ?, 'pending', 0)",
                [
                    (case_id, clock_id, kind, ts)
                    for kind in (TimerKind.WARNING, TimerKind.BREACH, *[TimerKind.ESCALATION] * 3)
                ],
            )
            conn.execute("insert or ignore into case_participants values (?, ?, 'owner', ?)", (case_id, f"d{step}", ts))
            if step == len(MOVES) - 1:  # the case closes: both departments are told (two outbox rows)
                conn.executemany(
                    "insert or ignore into outbox_messages (dedupe_key, case_id, kind, level, recipient, channel, "
                    "locale, context, urgent, status, created_at, next_attempt_at, attempts) "
                    "values (?, ?, 'resolved', 0, ?, 'email', 'ru', ?, 0, 'pending', ?, ?, 0)",
                    [(f"{case_id}-{who}", case_id, who, CONTEXT, ts, ts) for who in ("head1", "head2")],
                )
            conn.execute("COMMIT")
            fired += 1
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    conn.close()
    return elapsed, fired, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run well under a minute")
    parser.add_argument("--cases", type=int, default=None, help="cases to move (3 triggers each)")
    parser.add_argument(
        "--pg",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/postgres",
        default=None,
        metavar="ADMIN_URL",
        help="PostgreSQL instead: a server URL to create (and drop) the bench's own databases on",
    )
    args = parser.parse_args()
    if args.pg:
        n_cases = args.cases or (300 if args.quick else 1500)
        from bench.engine_pg import pg_run  # (it imports this module's moves and loops)

        pg = pg_run(args.pg, n_cases)
        one, four, floor = pg["pg_triggers_per_s_1conn"], pg["pg_triggers_per_s_4conn"], pg["pg_floor_per_s"]
        print(
            json.dumps(
                {
                    "bench": "engine_pg",
                    "cases": n_cases,
                    "triggers": 3 * n_cases,
                    **{key: round(value) for key, value in pg.items()},
                    "floor_fraction_1conn": round(one / floor, 2),
                    "scaling_4conn": round(four / one, 2),
                    "target_floor_fraction_1conn": 0.5,
                    "target_scaling_4conn": 3,
                    "ok": one >= 0.5 * floor and four >= 3 * one,
                }
            )
        )
        return
    n_cases = args.cases or (300 if args.quick else 3000)
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, fired, rows, cpu = engine_run(Path(tmp) / "engine.db", n_cases)
        floor_elapsed, floor_fired, floor_cpu = floor_run(Path(tmp) / "floor.db", n_cases)
    per_s = fired / elapsed
    floor_per_s = floor_fired / floor_elapsed
    print(f"engine: {fired} triggers in {elapsed:.2f}s; rows after: {rows}")
    print(f"floor:  {floor_fired} triggers' rows in {floor_elapsed:.2f}s (plain sqlite3, a transaction each)")
    print(
        json.dumps(
            {
                "bench": "engine",
                "cases": n_cases,
                "triggers": fired,
                "triggers_per_s": round(per_s),
                "floor_per_s": round(floor_per_s),
                "floor_ratio": round(floor_per_s / per_s, 2),
                "cpu_ms_per_trigger": round(1000 * cpu / fired, 2),
                "floor_cpu_ms_per_trigger": round(1000 * floor_cpu / floor_fired, 2),
                "target_ratio": 2.5,
                "ok": floor_per_s / per_s <= 2.5,
            }
        )
    )


if __name__ == "__main__":
    main()
