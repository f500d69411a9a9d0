"""`bench/engine.py --pg`: the engine on PostgreSQL on one connection, then on four (one process
each, disjoint cases, started together), against a floor writing the same rows per trigger with
psycopg in pipeline mode (the statements of a trigger sent without waiting, one sync at its
commit). Each runs in a database of its own, created on the server ``--pg`` names and dropped after.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.engine import (
    CHUNK,
    CONTEXT,
    DATA,
    FLOOR_STEPS,
    MOVES,
    START,
    STEP_TIMERS,
    TABLES,
    TOLD,
    Loop,
    fire_all,
    interleaved,
    open_cases,
)
from bench.procstat import postgres_cpu_seconds
from org.chart import Company
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, migrate, session_factory

CONTEXT_DOC = Jsonb(json.loads(CONTEXT))


def pg_run(admin_url: str, n_cases: int) -> dict[str, float]:
    """{pg_same_rows, pg_triggers_per_s_1conn, pg_triggers_per_s_4conn, pg_floor_per_s} for
    ``n_cases`` cases (three triggers each) per run; ``pg_same_rows``: the floor's cases ended with
    as many rows in each table as the same cases moved by the engine on one connection."""
    company = load_company(EXAMPLE_COMPANY)
    engine_db, floor_db = _create_pg(admin_url), ("", "")
    try:
        migrate(engine_db[1])
        engine = make_engine(engine_db[1])
        ids = open_cases(session_factory(engine), company, 2 * n_cases)
        engine.dispose()  # (a template database has no connections)
        floor_db = _create_pg(admin_url, template=engine_db[0])  # the floor's triggers find the same rows
        one, floor = interleaved(session_factory(engine), company, PgFloor(floor_db[1], company), ids[:n_cases],
                                 server=postgres_cpu_seconds)
        engine.dispose()  # the workers fork: each makes its own engine
        four = _in_processes(_worker, engine_db[1], company, ids[n_cases:], 4)
        # The floor's database still holds the second half of the cases as opened: the floor's
        # own four connections on it show what this machine's cores allow at all.
        floor_four = _in_processes(_floor_worker, floor_db[1], company, ids[n_cases:], 4)
        same_rows = pg_row_counts(engine_db[1], ids[:n_cases]) == pg_row_counts(floor_db[1], ids[:n_cases])
    finally:
        _drop_pg(admin_url, engine_db[0])
        if floor_db[0]:
            _drop_pg(admin_url, floor_db[0])
    print(f"pg engine: {one.fired} triggers in {one.seconds:.2f}s on 1 connection, "
          f"{four.fired} in {four.seconds:.2f}s on 4")
    print(f"pg floor:  {floor.fired} triggers' rows in {floor.seconds:.2f}s (psycopg pipeline, a transaction each, "
          f"{CHUNK} triggers in turn with the engine on 1 connection), {floor_four.fired} in "
          f"{floor_four.seconds:.2f}s on 4")
    one_cpu_ms = 1000 * (one.cpu + one.server_cpu) / one.fired
    return {
        "pg_same_rows": same_rows,
        "pg_triggers_per_s_1conn": one.fired / one.seconds,
        "pg_triggers_per_s_4conn": four.fired / four.seconds,
        "pg_floor_per_s": floor.fired / floor.seconds,
        "pg_floor_per_s_4conn": floor_four.fired / floor_four.seconds,
        "pg_cpu_ms_per_trigger_1conn": 1000 * one.cpu / one.fired,
        "pg_server_cpu_ms_per_trigger_1conn": 1000 * one.server_cpu / one.fired,
        "pg_floor_cpu_ms_per_trigger": 1000 * floor.cpu / floor.fired,
        "pg_floor_server_cpu_ms_per_trigger": 1000 * floor.server_cpu / floor.fired,
        # Client and server CPU a trigger on one connection: this machine's cores can't fire
        # more than cores / that a second, however many connections share them.
        "pg_cores": os.cpu_count() or 1,
        "pg_cpu_bound_per_s": 1000 * (os.cpu_count() or 1) / one_cpu_ms,
        "pg_cores_busy_4conn": (four.cpu + four.server_cpu) / four.seconds,
    }


def _in_processes(work: Callable[..., None], url: str, company: Company, ids: list[int], workers: int) -> Loop:
    """``workers`` processes, each running ``work`` on its share of ``ids`` on its own connection,
    started together: the span from the first start to the last end, the triggers, the client
    processes' CPU and the server's meanwhile."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(workers), context.Queue()
    chunks = [ids[n::workers] for n in range(workers)]
    procs = [context.Process(target=work, args=(url, company, chunk, barrier, results)) for chunk in chunks]
    server = postgres_cpu_seconds()
    for proc in procs:
        proc.start()
    spans = [results.get() for _ in procs]
    server = postgres_cpu_seconds() - server
    for proc in procs:
        proc.join()
    return Loop(
        seconds=max(end for _, end, _, _ in spans) - min(start for start, _, _, _ in spans),
        fired=sum(n for _, _, n, _ in spans),
        cpu=sum(cpu for _, _, _, cpu in spans),
        server_cpu=server,
    )


def _worker(url: str, company: Company, ids: list[int], barrier: Any, results: Any) -> None:
    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as session:  # connect before the start line
        session.connection()
    barrier.wait()
    began, cpu = time.perf_counter(), time.process_time()
    _, fired = fire_all(factory, company, ids)
    results.put((began, time.perf_counter(), fired, time.process_time() - cpu))
    engine.dispose()


def _floor_worker(url: str, company: Company, ids: list[int], barrier: Any, results: Any) -> None:
    floor = PgFloor(url, company)
    barrier.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for step in range(len(MOVES)):
        for at in range(0, len(ids), CHUNK):
            floor.fire_step(step, ids[at : at + CHUNK])
    results.put((began, time.perf_counter(), len(MOVES) * len(ids), time.process_time() - cpu))
    floor.close()


class PgFloor:
    """`bench.engine.Floor`'s rows per trigger on a copy of the engine's database as its triggers
    found it, written with psycopg in pipeline mode: a trigger's statements are sent without
    waiting (rows are found by subqueries, not read back) and synced once, at its commit."""

    OPEN_STEP = ("(select id from sla_clocks where case_id = %s and kind = 'step' and stopped_at is null "
                 "order by id desc limit 1)")
    WHOLE_CASE = "(select id from sla_clocks where case_id = %s and kind = 'case')"

    def __init__(self, url: str, company: Company) -> None:
        self.conn = conn = psycopg.connect(_plain(url))
        calendars = [company.calendars[calendar] for _, _, _, calendar, _ in FLOOR_STEPS if calendar is not None]
        conn.cursor().executemany(  # the calendar versions the engine registers as it goes (not timed)
            "insert into calendar_versions values (%s, %s, %s, %s) on conflict do nothing",
            [(c.fingerprint, c.name, Jsonb(c.config.model_dump(mode="json")), START) for c in calendars],
        )
        conn.commit()
        self.fingerprints = {calendar.name: calendar.fingerprint for calendar in calendars}

    def close(self) -> None:
        self.conn.close()

    def fire_step(self, step: int, ids: list[int]) -> None:
        conn, fingerprints, open_step, whole_case = self.conn, self.fingerprints, self.OPEN_STEP, self.WHOLE_CASE
        trigger, actor, payload = MOVES[step]
        now = START + timedelta(hours=step + 1)
        state, department, role, calendar, target = FLOOR_STEPS[step]
        from_state = "inspection" if step == 0 else FLOOR_STEPS[step - 1][0]
        data = Jsonb({**DATA, **{key: value for _, _, earlier in MOVES[: step + 1] for key, value in earlier.items()}})
        seq = step + 2
        for case_id in ids:
            with conn.pipeline():
                conn.execute("select id, state, version, data from cases where id = %s for update", (case_id,))
                conn.execute(
                    "update sla_clocks set used_minutes = 60, stopped_at = %s, paused_since = null, status = 'met' "
                    f"where id = {open_step}",
                    (now, case_id),
                )
                conn.execute(
                    "update timers set status = 'cancelled', lease_until = null, lease_owner = null "
                    "where case_id = %s and state = %s and status = 'pending'",
                    (case_id, from_state),
                )
                conn.execute(
                    "insert into case_events (case_id, seq, at, actor, trigger, from_state, to_state, payload, "
                    "source) values (%s, %s, %s, %s, %s, %s, %s, %s, 'api')",
                    (case_id, seq, now, actor, trigger, from_state, state, Jsonb(payload)),
                )
                if department is None:  # the case closes
                    conn.execute(
                        "update sla_clocks set used_minutes = 180, stopped_at = %s, paused_since = null, "
                        f"status = 'met' where id = {whole_case}",
                        (now, case_id),
                    )
                    conn.execute(
                        "update timers set status = 'cancelled', lease_until = null, lease_owner = null "
                        f"where clock_id = {whole_case} and status = 'pending'",
                        (case_id,),
                    )
                    conn.execute(
                        "update cases set state = %s, data = %s, owner_department = null, owner_role = null, "
                        "owner_person = null, due_at = null, version = %s, updated_at = %s, closed_at = %s "
                        "where id = %s and version = %s",
                        (state, data, seq, now, now, case_id, seq - 1),
                    )
                    _pg_tell(conn, "resolved", f"case={case_id}", case_id, now)
                else:
                    deadline = now + timedelta(hours=48)
                    conn.execute(
                        "insert into sla_clocks (case_id, kind, state, event_seq, department, role, person, "
                        "calendar, calendar_fingerprint, target_minutes, warn_fraction, started_at, running_since, "
                        "deadline_at, warn_at, used_minutes, paused_since, stopped_at, status, requester, "
                        "case_opened_at) select %s, 'step', %s, %s, %s, %s, null, %s, %s, %s, 0.75, %s, %s, %s, %s, "
                        "0, null, null, 'running', requester, opened_at from cases where id = %s",
                        (case_id, state, seq, department, role, calendar, fingerprints[calendar], target, now, now,
                         deadline, now + timedelta(hours=29), case_id),
                    )
                    conn.cursor().executemany(
                        "insert into timers (case_id, clock_id, kind, level, trigger, state, due_at, status, "
                        "fired_at, lease_until, lease_owner, attempts, last_error) values (%s, "
                        "currval(pg_get_serial_sequence('sla_clocks', 'id')), %s, %s, null, %s, %s, 'pending', "
                        "null, null, null, 0, null)",
                        [(case_id, str(kind), level, state, now + timedelta(hours=hours))
                         for kind, level, hours in STEP_TIMERS],
                    )
                    conn.execute(
                        "update cases set state = %s, data = %s, owner_department = %s, owner_role = %s, "
                        "owner_person = null, due_at = %s, version = %s, updated_at = %s, closed_at = null "
                        "where id = %s and version = %s",
                        (state, data, department, role, deadline, seq, now, case_id, seq - 1),
                    )
                    conn.execute(
                        "insert into case_participants (case_id, department, role, since) values (%s, %s, 'owner', "
                        "%s) on conflict (case_id, department) do nothing",
                        (case_id, department, now),
                    )
                    _pg_tell(conn, "step_changed", f"case={case_id}|event={seq}", case_id, now)
                conn.commit()


def _pg_tell(conn: psycopg.Connection[Any], kind: str, key: str, case_id: int, now: datetime) -> None:
    conn.cursor().executemany(
        "insert into outbox_messages (dedupe_key, case_id, kind, level, recipient, channel, locale, context, urgent, "
        "status, created_at, next_attempt_at, attempts, last_error, sent_at, lease_owner, lease_until) values "
        "(%s, %s, %s, 0, %s, 'email', 'ru', %s, false, 'pending', %s, %s, 0, null, null, null, null) "
        "on conflict do nothing",
        [(f"{kind}|{key}|L0|{who}|email", case_id, kind, who, CONTEXT_DOC, now, now) for who in TOLD[kind]],
    )


def pg_row_counts(url: str, ids: list[int]) -> dict[str, int]:
    with psycopg.connect(_plain(url)) as conn:
        return {
            table: conn.execute(f"select count(*) from {table} where {key} = any(%s)", (ids,)).fetchone()[0]
            for table, key in (("cases", "id"), *[(table, "case_id") for table in TABLES[1:]])
        }


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _create_pg(admin_url: str, template: str | None = None) -> tuple[str, str]:
    name = f"bench_engine_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
