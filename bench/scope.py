"""Read-scope benchmark: the dashboard's open-case board and the REST list, with each reader's
scope applied as a SQL filter (org.scope), over a database of closed and open cases (1,000,000
by default, 10 % open), bulk-loaded into SQLite. The floor is the same query for the director
(no filter), measured in the same run.

    .venv/bin/python bench/scope.py --quick      # 100,000 cases
    .venv/bin/python bench/scope.py              # 1,000,000 cases

The last line printed is one JSON object with the figures and the targets.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # replace the script's folder: bench/calendar.py would shadow the stdlib's

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from api.dashboard.data import open_rows  # noqa: E402
from engine import cases, versions  # noqa: E402
from org.actors import ReadScope, integration_principal, person_scope  # noqa: E402
from org.chart import Company  # noqa: E402
from org.scope import case_filter  # noqa: E402
from runtime.company import load_company  # noqa: E402
from runtime.settings import EXAMPLE_COMPANY  # noqa: E402
from storage.db import make_engine, migrate, session_factory  # noqa: E402
from storage.models import Case  # noqa: E402

TARGET_BOARD_S = 1.0
"""The board's query for any reader, at 1M cases."""
TARGET_RATIO = 3.0
"""A scoped board costs at most this many times the unscoped floor."""
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CHUNK = 50_000
STAMP = "%Y-%m-%d %H:%M:%S.%f"


def load(path: Path, n_cases: int, company: Company, seed: int, open_share: float = 0.10) -> float:
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    types = ["return", "rush_delivery", "replacement", "picking_error", "lead_dispute", "reservation"]
    with session_factory(engine).begin() as session:
        fingerprints = {name: versions.register_definition(session, company.case_type(name), NOW) for name in types}
        calendars = {dept: (company.calendar_of(dept).name,
                            versions.register_calendar(session, company.calendar_of(dept), NOW))
                     for dept in company.config.departments}
    engine.dispose()
    rng = random.Random(seed)
    people = {dept: company.members(dept) for dept in company.config.departments}
    began = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    case_id = clock_id = 0
    while case_id < n_cases:
        case_rows, part_rows, clock_rows = [], [], []
        for _ in range(min(CHUNK, n_cases - case_id)):
            case_id += 1
            name = rng.choice(types)
            definition = company.case_type(name)
            opened = NOW - timedelta(minutes=rng.randrange(1, 365 * 24 * 60))
            is_open = rng.random() < open_share
            steps = [s for s in definition.states.values() if s.department]
            state_key = rng.choice([k for k, s in definition.states.items() if s.department])
            state = definition.states[state_key]
            owner = state.department if is_open else None
            person = rng.choice(people[owner]) if owner and rng.random() < 0.5 else None
            due = (NOW + timedelta(minutes=rng.randrange(-600, 6000))) if is_open else None
            closed = None if is_open else (opened + timedelta(days=2)).strftime(STAMP)
            case_rows.append((case_id, name, fingerprints[name], state_key if is_open else "closed", "{}",
                              definition.requester, definition.performer, owner, state.role if is_open else None,
                              person, due.strftime(STAMP) if due else None, 3, opened.strftime(STAMP),
                              opened.strftime(STAMP), closed))
            joined = {definition.requester, definition.performer} | {
                s.department for s in rng.sample(steps, k=min(2, len(steps))) if s.department}
            part_rows += [(case_id, dept, "owner", opened.strftime(STAMP)) for dept in joined]
            if is_open and owner is not None:
                clock_id += 1
                calendar, fingerprint = calendars[owner]
                clock_rows.append((clock_id, case_id, "step", state_key, 1, owner, state.role, person, calendar,
                                   fingerprint, 480.0, 0.75, opened.strftime(STAMP), opened.strftime(STAMP),
                                   due.strftime(STAMP) if due else None, None, 0.0, None, None, "running"))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO cases (id, case_type, definition_fingerprint, state, data, requester, performer, "
            "owner_department, owner_role, owner_person, due_at, version, opened_at, updated_at, closed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", case_rows)
        conn.executemany("INSERT INTO case_participants (case_id, department, role, since) VALUES (?, ?, ?, ?)",
                         part_rows)
        conn.executemany(
            "INSERT INTO sla_clocks (id, case_id, kind, state, event_seq, department, role, person, calendar, "
            "calendar_fingerprint, target_minutes, warn_fraction, started_at, running_since, deadline_at, warn_at, "
            "used_minutes, paused_since, stopped_at, status) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", clock_rows)
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - began


def median_s(action: Any, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 cases")
    parser.add_argument("--cases", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n_cases = args.cases or (100_000 if args.quick else 1_000_000)
    company = load_company(EXAMPLE_COMPANY)
    readers: dict[str, ReadScope] = {
        "director (floor)": person_scope(company, company.config.company.director)[1],
        "head of sales": person_scope(company, "kuznetsova")[1],
        "head of warehouse": person_scope(company, "smirnov")[1],
        "storekeeper": person_scope(company, "popov")[1],
        "marketer": person_scope(company, "sidorov")[1],
        "integration (accounting)": integration_principal("erp", ["accounting/accountant"], via="bench").scope,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scope.db"
        loaded = load(path, n_cases, company, seed=15)
        print(f"loaded {n_cases:,} cases in {loaded:.1f} s", file=sys.stderr)
        engine = make_engine(f"sqlite:///{path}")
        sessions = session_factory(engine)
        figures: dict[str, dict[str, Any]] = {}
        for label, scope in readers.items():
            with sessions() as session:
                board = median_s(lambda s=scope, x=session: open_rows(x, company, NOW, reader=s), args.repeat)
                listed = median_s(lambda s=scope, x=session: cases.list_cases(
                    x, open_only=True, limit=100, where=case_filter(s, Case.id)), args.repeat)
                every = median_s(lambda s=scope, x=session: cases.list_cases(
                    x, limit=100, where=case_filter(s, Case.id)), args.repeat)
                shown = len(open_rows(session, company, NOW, reader=scope))
            figures[label] = {"board_s": round(board, 3), "open_list_s": round(listed, 4), "list_s": round(every, 4),
                              "board_rows": shown}
            print(f"{label:26} board {board:.3f} s ({shown} rows), open list {listed * 1000:.1f} ms, "
                  f"list {every * 1000:.1f} ms", file=sys.stderr)
        engine.dispose()
    floor = figures["director (floor)"]["board_s"]
    worst = max(row["board_s"] for row in figures.values())
    worst_list = max(max(row["open_list_s"], row["list_s"]) for row in figures.values())
    print(json.dumps({
        "benchmark": "scope", "cases": n_cases, "open_share": 0.10, "readers": figures,
        "worst_board_s": worst, "floor_board_s": floor, "worst_ratio": round(worst / floor, 2) if floor else None,
        "worst_list_s": worst_list, "target_board_s": TARGET_BOARD_S, "target_list_s": TARGET_BOARD_S,
        "target_ratio": TARGET_RATIO,
        "ok": worst <= TARGET_BOARD_S and worst_list <= TARGET_BOARD_S and (not floor or worst / floor <= TARGET_RATIO),
    }))


if __name__ == "__main__":
    main()
