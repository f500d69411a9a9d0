"""`bench/engine.py --pg`: the engine on PostgreSQL on one connection, then on four (one process
each, disjoint cases, started together), against a floor writing the same rows per trigger with
psycopg in pipeline mode (the statements of a trigger sent without waiting, one sync at its
commit). Each runs in a database of its own, created on the server ``--pg`` names and dropped after.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.engine import CONTEXT, DATA, MOVES, START, fire_all, open_cases
from core.vocabulary import TimerKind
from org.chart import Company
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, migrate, session_factory


def pg_run(admin_url: str, n_cases: int) -> dict[str, float]:
    """{pg_triggers_per_s_1conn, pg_triggers_per_s_4conn, pg_floor_per_s} for ``n_cases`` cases
    (three triggers each) per run."""
    company = load_company(EXAMPLE_COMPANY)
    engine_db, floor_db = _create_pg(admin_url), _create_pg(admin_url)
    try:
        migrate(engine_db[1])
        migrate(floor_db[1])
        engine = make_engine(engine_db[1])
        ids = open_cases(session_factory(engine), company, 2 * n_cases)
        one_s, one_fired = fire_all(session_factory(engine), company, ids[:n_cases])
        engine.dispose()  # the workers fork: each makes its own engine
        four_s, four_fired = _fire_in_processes(engine_db[1], company, ids[n_cases:], 4)
        floor_s, floor_fired = pg_floor_run(floor_db[1], n_cases)
    finally:
        _drop_pg(admin_url, engine_db[0])
        _drop_pg(admin_url, floor_db[0])
    print(f"pg engine: {one_fired} triggers in {one_s:.2f}s on 1 connection, {four_fired} in {four_s:.2f}s on 4")
    print(f"pg floor:  {floor_fired} triggers' rows in {floor_s:.2f}s (psycopg pipeline, a transaction each)")
    return {
        "pg_triggers_per_s_1conn": one_fired / one_s,
        "pg_triggers_per_s_4conn": four_fired / four_s,
        "pg_floor_per_s": floor_fired / floor_s,
    }


def _fire_in_processes(url: str, company: Company, ids: list[int], workers: int) -> tuple[float, int]:
    """``workers`` processes, each firing its share of ``ids`` on its own connection, started
    together; the span from the first start to the last end."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(workers), context.Queue()
    chunks = [ids[n::workers] for n in range(workers)]
    procs = [context.Process(target=_worker, args=(url, company, chunk, barrier, results)) for chunk in chunks]
    for proc in procs:
        proc.start()
    spans = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    return max(end for _, end, _ in spans) - min(start for start, _, _ in spans), sum(n for _, _, n in spans)


def _worker(url: str, company: Company, ids: list[int], barrier: Any, results: Any) -> None:
    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as session:  # connect before the start line
        session.connection()
    barrier.wait()
    began = time.perf_counter()
    _, fired = fire_all(factory, company, ids)
    results.put((began, time.perf_counter(), fired))
    engine.dispose()


def pg_floor_run(url: str, n_cases: int) -> tuple[float, int]:
    """`bench.engine.floor_run`'s rows per trigger, written with psycopg in pipeline mode."""
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    with conn.pipeline():
        conn.execute(
            "insert into case_type_versions (fingerprint, name, definition, created_at) "
            "values ('f', 'return', '{}', %s)",
            (START,),
        )
        conn.execute(
            "insert into calendar_versions (fingerprint, name, config, created_at) values ('c', 'c', '{}', %s)",
            (START,),
        )
        conn.cursor().executemany(
            "insert into cases (id, case_type, definition_fingerprint, state, data, requester, performer, "
            "owner_department, version, opened_at, updated_at) values (%s, 'return', 'f', 'inspection', %s, 'sales', "
            "'warehouse', 'warehouse', 1, %s, %s)",
            [(i, Jsonb(DATA), START, START) for i in range(1, n_cases + 1)],
        )
        conn.commit()
    fired = clock_id = 0
    ts = START
    began = time.perf_counter()
    for step, (trigger, _actor, payload) in enumerate(MOVES):
        for case_id in range(1, n_cases + 1):
            clock_id += 1
            with conn.pipeline():
                conn.execute("select id, state, version, data from cases where id = %s for update", (case_id,))
                conn.execute(
                    "update sla_clocks set stopped_at = %s, status = 'met', used_minutes = 60 where id = %s",
                    (ts, clock_id - 1),
                )
                conn.execute(
                    "update timers set status = 'cancelled' where case_id = %s and state = %s and status = 'pending'",
                    (case_id, "s"),
                )
                conn.execute(
                    "insert into case_events (case_id, seq, at, actor, trigger, from_state, to_state, "
                    "payload, source) values (%s, %s, %s, 'a', %s, 'x', 'y', %s, 'bench')",
                    (case_id, step + 2, ts, trigger, Jsonb(payload)),
                )
                conn.execute(
                    "update cases set state = 'y', data = %s, version = %s, updated_at = %s, due_at = %s "
                    "where id = %s and version = %s",
                    (Jsonb({**DATA, **payload}), step + 2, ts, ts, case_id, step + 1),
                )
                conn.execute(
                    "insert into sla_clocks (id, case_id, kind, state, event_seq, department, calendar, "
                    "calendar_fingerprint, target_minutes, warn_fraction, started_at, running_since, deadline_at, "
                    "warn_at, used_minutes, status) values (%s, %s, 'step', 'y', %s, 'logistics', 'c', 'c', 480, "
                    "0.75, %s, %s, %s, %s, 0, 'running')",
                    (clock_id, case_id, step + 2, ts, ts, ts, ts),
                )
                conn.cursor().executemany(
                    "insert into timers (case_id, clock_id, kind, level, state, due_at, status, attempts) "
                    "values (%s, %s, %s, 0, 'y', %s, 'pending', 0)",
                    [
                        (case_id, clock_id, str(kind), ts)
                        for kind in (TimerKind.WARNING, TimerKind.BREACH, *[TimerKind.ESCALATION] * 3)
                    ],
                )
                conn.execute(
                    "insert into case_participants values (%s, %s, 'owner', %s) on conflict do nothing",
                    (case_id, f"d{step}", ts),
                )
                if step == len(MOVES) - 1:
                    conn.cursor().executemany(
                        "insert into outbox_messages (dedupe_key, case_id, kind, level, recipient, channel, locale, "
                        "context, urgent, status, created_at, next_attempt_at, attempts) values (%s, %s, 'resolved', "
                        "0, %s, 'email', 'ru', %s, false, 'pending', %s, %s, 0) on conflict do nothing",
                        [
                            (f"{case_id}-{who}", case_id, who, Jsonb(json.loads(CONTEXT)), ts, ts)
                            for who in ("head1", "head2")
                        ],
                    )
                conn.commit()
            fired += 1
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed, fired


def _create_pg(admin_url: str) -> tuple[str, str]:
    name = f"bench_engine_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
