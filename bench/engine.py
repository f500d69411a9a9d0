"""Triggers applied and committed per second on the SQLite default, single process, against the
floor: the same rows written with plain ``sqlite3`` (one transaction per trigger, the engine's
connection settings, starting from a copy of the engine's database as its triggers found it), so
the ratio is what the engine's logic, the ORM session and the subscribers cost.

    .venv/bin/python bench/engine.py [--quick] [--cases N]
    .venv/bin/python bench/engine.py --pg [ADMIN_URL] [--quick] [--cases N]

Ends with one JSON line: {"bench": "engine", "triggers_per_s": ..., "floor_per_s": ..., ...}; it
also gives the CPU time per trigger of both loops (``cpu_ms_per_trigger``, ``floor_cpu_ms_per_trigger``),
steadier than wall time on a shared machine, and whether both ended with as many rows in each
table (``same_rows``: the floor is written by hand for the example company's return case).
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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

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


CHUNK = 100
"""Triggers the engine fires before the floor writes the same triggers' rows, and so on in turn:
both loops see the same load on a shared machine, so their ratio holds while it changes."""


@dataclass
class Loop:
    """Time and CPU time spent by one side of the run, and the triggers it applied."""

    seconds: float = 0.0
    cpu: float = 0.0
    fired: int = 0
    server_cpu: float = 0.0
    """CPU seconds the database server used meanwhile (``server``: PostgreSQL on this machine)."""
    server: Callable[[], float] | None = None

    def timing(self, triggers: int) -> AbstractContextManager[None]:
        return _timed(self, triggers)


@contextmanager
def _timed(loop: Loop, triggers: int) -> Iterator[None]:
    server = loop.server() if loop.server else 0.0
    began, cpu = time.perf_counter(), time.process_time()
    yield
    loop.seconds += time.perf_counter() - began
    loop.cpu += time.process_time() - cpu
    loop.fired += triggers
    if loop.server:
        loop.server_cpu += loop.server() - server


def run(db: Path, floor_db: Path, n_cases: int) -> tuple[Loop, Loop]:
    """The engine's triggers and the floor's, ``CHUNK`` at a time in turn: (engine, floor). The
    floor works on a copy of the engine's database as the triggers found it (the cases opened)."""
    url = f"sqlite:///{db}"
    migrate(url)
    company = load_company(EXAMPLE_COMPANY)
    engine = make_engine(url)
    factory = session_factory(engine)
    ids = open_cases(factory, company, n_cases)
    _copy(db, floor_db)
    loops = interleaved(factory, company, Floor(floor_db, company), ids)
    engine.dispose()
    return loops


class StepFloor(Protocol):
    """A floor fires a step of the moves on some cases and closes (SQLite's and PostgreSQL's)."""

    def fire_step(self, step: int, ids: list[int]) -> None: ...

    def close(self) -> None: ...


def interleaved(
    factory: sessionmaker[Session], company: Company, floor: StepFloor, ids: list[int],
    server: Callable[[], float] | None = None,
) -> tuple[Loop, Loop]:
    """The engine and its floor, ``CHUNK`` triggers at a time in turn: both see the same load on
    a shared machine, so their ratio holds while the load changes. ``server``: the database
    server's CPU seconds so far, to charge each side its server's share too."""
    engine_loop, floor_loop = Loop(server=server), Loop(server=server)
    for step in range(len(MOVES)):
        for at in range(0, len(ids), CHUNK):
            chunk = ids[at : at + CHUNK]
            with engine_loop.timing(len(chunk)):
                fire_step(factory, company, step, chunk)
            with floor_loop.timing(len(chunk)):
                floor.fire_step(step, chunk)
    floor.close()
    return engine_loop, floor_loop


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
    began = time.perf_counter()
    for step in range(len(MOVES)):
        fire_step(factory, company, step, ids)
    return time.perf_counter() - began, len(MOVES) * len(ids)


def fire_step(factory: sessionmaker[Session], company: Company, step: int, ids: list[int]) -> None:
    """``MOVES[step]`` on each case, one transaction each."""
    trigger, actor, payload = MOVES[step]
    who, now = company.actor(actor), START + timedelta(hours=step + 1)
    for case_id in ids:
        with factory.begin() as session:
            cases.fire(session, company, case_id=case_id, trigger=trigger, actor=who, payload=payload, now=now)


TABLES = ("cases", "case_events", "sla_clocks", "timers", "case_participants", "outbox_messages")


def row_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    counts = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    conn.close()
    return counts


def _copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()


FLOOR_STEPS = [
    # (state entered, its department and role, its calendar, target minutes; None: the case closes)
    ("collection", "logistics", "dispatcher", "ekb_logistics", 960.0),
    ("refund", "accounting", "accountant", "msk_office", 480.0),
    ("closed", None, None, None, None),
]
"""Where ``MOVES`` take a return case in the example company (the floor writes these rows)."""
STEP_TIMERS = [(TimerKind.WARNING, 0, 29), (TimerKind.BREACH, 0, 48), *[(TimerKind.ESCALATION, n, 24 * n + 29)
                                                                          for n in (1, 2, 3)]]
"""A step clock's timers: kind, level, hours after the step starts (about the engine's)."""
TOLD = {"step_changed": ("ivanov",), "resolved": ("kuznetsova", "smirnov", "ivanov")}
"""Who the example company tells of a return case's step and of its end (one e-mail each)."""


class Floor:
    """The rows the engine writes per trigger, in plain sqlite3 on a copy of the engine's database
    as its triggers found it: read the case and its open step clock, stop the clock, cancel the
    step's timers, append the event; then either start the next step (its clock, five timers, the
    case row, the department joining, one message) or close the case (its whole-case clock stopped,
    its timers cancelled, the case row, three messages). Same connection settings as the engine's."""

    def __init__(self, db: Path, company: Company) -> None:
        self.conn = conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        calendars = [company.calendars[calendar] for _, _, _, calendar, _ in FLOOR_STEPS if calendar is not None]
        conn.executemany(  # the calendar versions the engine registers as it goes (not timed)
            "insert or ignore into calendar_versions values (?, ?, ?, ?)",
            [(c.fingerprint, c.name, json.dumps(c.config.model_dump(mode="json")), _ts(START)) for c in calendars],
        )
        self.fingerprints = {calendar.name: calendar.fingerprint for calendar in calendars}

    def close(self) -> None:
        self.conn.close()

    def fire_step(self, step: int, ids: list[int]) -> None:
        conn, fingerprints = self.conn, self.fingerprints
        trigger, actor, payload = MOVES[step]
        now = START + timedelta(hours=step + 1)
        ts = _ts(now)
        state, department, role, calendar, target = FLOOR_STEPS[step]
        for case_id in ids:
            conn.execute("BEGIN IMMEDIATE")
            _, from_state, version, data, requester, opened_at = conn.execute(
                "select id, state, version, data, requester, opened_at from cases where id = ?", (case_id,)
            ).fetchone()
            clock_id, since = conn.execute(
                "select id, running_since from sla_clocks where case_id = ? and kind = 'step' and stopped_at is null "
                "order by id desc limit 1",
                (case_id,),
            ).fetchone()
            conn.execute(
                "update sla_clocks set used_minutes = 60, stopped_at = ?, paused_since = null, status = 'met' "
                "where id = ?",
                (ts, clock_id),
            )
            conn.execute(
                "update timers set status = 'cancelled', lease_until = null, lease_owner = null "
                "where case_id = ? and state = ? and status = 'pending'",
                (case_id, from_state),
            )
            seq = version + 1
            conn.execute(
                "insert into case_events (case_id, seq, at, actor, trigger, from_state, to_state, payload, source) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, 'api')",
                (case_id, seq, ts, actor, trigger, from_state, state, json.dumps(payload)),
            )
            data = json.dumps({**json.loads(data), **payload})
            if department is None:  # the case closes
                (whole,) = conn.execute(
                    "select id from sla_clocks where case_id = ? and kind = 'case'", (case_id,)
                ).fetchone()
                conn.execute(
                    "update sla_clocks set used_minutes = 180, stopped_at = ?, paused_since = null, status = 'met' "
                    "where id = ?",
                    (ts, whole),
                )
                conn.execute(
                    "update timers set status = 'cancelled', lease_until = null, lease_owner = null "
                    "where clock_id = ? and status = 'pending'",
                    (whole,),
                )
                conn.execute(
                    "update cases set state = ?, data = ?, owner_department = null, owner_role = null, "
                    "owner_person = null, due_at = null, version = ?, updated_at = ?, closed_at = ? "
                    "where id = ? and version = ?",
                    (state, data, seq, ts, ts, case_id, version),
                )
                _tell(conn, "resolved", f"case={case_id}", case_id, ts)
            else:
                deadline, warn_at = _ts(now + timedelta(hours=48)), _ts(now + timedelta(hours=29))
                (new_clock,) = conn.execute(
                    "insert into sla_clocks (case_id, kind, state, event_seq, department, role, person, calendar, "
                    "calendar_fingerprint, target_minutes, warn_fraction, started_at, running_since, deadline_at, "
                    "warn_at, used_minutes, paused_since, stopped_at, status, requester, case_opened_at) values "
                    "(?, 'step', ?, ?, ?, ?, null, ?, ?, ?, 0.75, ?, ?, ?, ?, 0, null, null, 'running', ?, ?) "
                    "returning id",
                    (case_id, state, seq, department, role, calendar, fingerprints[calendar], target, ts, ts,
                     deadline, warn_at, requester, opened_at),
                ).fetchone()
                conn.executemany(
                    "insert into timers (case_id, clock_id, kind, level, trigger, state, due_at, status, fired_at, "
                    "lease_until, lease_owner, attempts, last_error) values (?, ?, ?, ?, null, ?, ?, 'pending', null, "
                    "null, null, 0, null)",
                    [(case_id, new_clock, str(kind), level, state, _ts(now + timedelta(hours=hours)))
                     for kind, level, hours in STEP_TIMERS],
                )
                conn.execute(
                    "update cases set state = ?, data = ?, owner_department = ?, owner_role = ?, owner_person = null, "
                    "due_at = ?, version = ?, updated_at = ?, closed_at = null where id = ? and version = ?",
                    (state, data, department, role, deadline, seq, ts, case_id, version),
                )
                conn.execute(
                    "insert into case_participants (case_id, department, role, since) values (?, ?, 'owner', ?) "
                    "on conflict (case_id, department) do nothing",
                    (case_id, department, ts),
                )
                _tell(conn, "step_changed", f"case={case_id}|event={seq}", case_id, ts)
            conn.execute("COMMIT")


def _tell(conn: sqlite3.Connection, kind: str, key: str, case_id: int, ts: str) -> None:
    conn.executemany(
        "insert into outbox_messages (dedupe_key, case_id, kind, level, recipient, channel, locale, context, urgent, "
        "status, created_at, next_attempt_at, attempts, last_error, sent_at, lease_owner, lease_until) "
        "values (?, ?, ?, 0, ?, 'email', 'ru', ?, 0, 'pending', ?, ?, 0, null, null, null, null) "
        "on conflict do nothing",
        [(f"{kind}|{key}|L0|{who}|email", case_id, kind, who, CONTEXT, ts, ts) for who in TOLD[kind]],
    )


def _ts(instant: datetime) -> str:
    """As the engine stores an instant on SQLite (UTC wall time, microseconds)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


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
                    **{key: value if isinstance(value, bool) else round(value, 2 if "cpu" in key or "cores" in key
                                                                          else None)
                       for key, value in pg.items()},
                    "floor_fraction_1conn": round(one / floor, 2),
                    "scaling_4conn": round(four / one, 2),
                    # The same on the floor's own four connections, and the most the cores allow
                    # the engine (client and server CPU a trigger): the target against the machine.
                    "floor_scaling_4conn": round(pg["pg_floor_per_s_4conn"] / floor, 2),
                    "scaling_cpu_bound_4conn": round(pg["pg_cpu_bound_per_s"] / one, 2),
                    "target_floor_fraction_1conn": 0.5,
                    "target_scaling_4conn": 3,
                    "ok": one >= 0.5 * floor and four >= 3 * one and pg["pg_same_rows"],
                }
            )
        )
        return
    n_cases = args.cases or (300 if args.quick else 3000)
    with tempfile.TemporaryDirectory() as tmp:
        engine_db, floor_db = Path(tmp) / "engine.db", Path(tmp) / "floor.db"
        engine, floor = run(engine_db, floor_db, n_cases)
        rows, floor_rows = row_counts(engine_db), row_counts(floor_db)
    per_s, floor_per_s = engine.fired / engine.seconds, floor.fired / floor.seconds
    print(f"engine: {engine.fired} triggers in {engine.seconds:.2f}s; rows after: {rows}")
    print(f"floor:  {floor.fired} triggers' rows in {floor.seconds:.2f}s (plain sqlite3, a transaction each, "
          f"{CHUNK} triggers in turn with the engine); rows after: {floor_rows}")
    print(
        json.dumps(
            {
                "bench": "engine",
                "cases": n_cases,
                "triggers": engine.fired,
                "triggers_per_s": round(per_s),
                "floor_per_s": round(floor_per_s),
                "floor_ratio": round(floor_per_s / per_s, 2),
                "cpu_ms_per_trigger": round(1000 * engine.cpu / engine.fired, 2),
                "floor_cpu_ms_per_trigger": round(1000 * floor.cpu / floor.fired, 2),
                "same_rows": rows == floor_rows,
                "target_ratio": 2.5,
                "ok": floor_per_s / per_s <= 2.5 and rows == floor_rows,
            }
        )
    )


if __name__ == "__main__":
    main()
