"""The inbox processor in its own process, on SQLite and PostgreSQL: the HTTP app only stores
webhooks and rings the doorbell; the processor wakes at once, turns every stored event into
exactly one case, and two processors (or a processor and the HTTP app's own pipeline) racing on
the same rows open each case once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import serving, write_config
from core.clock import SimulatedClock
from core.vocabulary import InboxStatus
from crm import processor as processor_module
from crm import samples
from crm.inbox import InboxRecord, store_many
from crm.processing import process_inbox_events, read_pending
from crm.processor import Doorbell, InboxProcessor, ProcessorLink
from crm.write_gate import WriteGate
from org.chart import Company
from storage.db import make_engine, make_read_engine, session_factory
from storage.models import Case, InboxEvent

ENV = samples.SAMPLE_ENV
ROOT = Path(__file__).resolve().parent.parent


def order(n: int, run: str = "p") -> bytes:
    return (
        b'{"entity":"order","entity_id":"%s-%d","stage":"rush_requested","fields":{"customer":"X",'
        b'"deliver_by":"2026-11-18","reason":"r"}}' % (run.encode(), n)
    )


def store_orders(sessions: sessionmaker[Session], clock: SimulatedClock, count: int, run: str = "p") -> None:
    with sessions.begin() as session:
        store_many(
            session,
            [
                InboxRecord(
                    source="generic",
                    idempotency_key=f"{run}-{n}",
                    received_at=clock.now(),
                    content_type="application/json",
                    headers={},
                    body=order(n, run).decode(),
                )
                for n in range(count)
            ],
        )


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(cases, distinct external keys among them, inbox rows still received)."""
    with sessions() as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        keys = session.scalar(select(func.count(func.distinct(Case.external_key)))) or 0
        waiting = (
            session.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.status == InboxStatus.RECEIVED)
            )
            or 0
        )
    return cases, keys, waiting


@pytest.fixture
def bell(db_url: str) -> Iterator[Doorbell]:
    doorbell = Doorbell(db_url)
    yield doorbell
    doorbell.close()


def test_a_ring_with_nobody_listening_is_dropped_and_a_listener_wakes_on_the_next(bell: Doorbell, db_url: str) -> None:
    other, ringer = Doorbell(db_url), Doorbell(db_url)
    try:
        ringer.ring()  # nobody listens: no error, nothing kept
        assert bell.listen()
        assert not bell.wait(0.05)
        assert not other.listen()  # one processor per database listens; another one polls
        for _ in range(3):
            ringer.ring()
        assert bell.wait(5) and not bell.wait(0.05)  # the three rings are consumed as one
    finally:
        other.close()
        ringer.close()


def test_it_drains_every_stored_event_into_exactly_one_case(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    store_orders(sessions, clock, 40)
    processor = InboxProcessor(sessions, company, clock, doorbell=None)
    assert processor.drain() == 40
    assert counts(sessions) == (40, 40, 0)
    assert processor.drain() == 0


def test_a_read_session_sees_the_last_commit_while_another_transaction_writes(
    db_url: str, sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    """The processor finds its rows without queueing behind a store (SQLite: no write lock taken)."""
    store_orders(sessions, clock, 3)
    reads = make_read_engine(db_url)
    try:
        with sessions.begin() as writer:  # holds SQLite's write lock until the block ends
            writer.add(InboxEvent(source="generic", idempotency_key="late", received_at=clock.now(),
                                  content_type="application/json", headers={}, body="{}",
                                  status=InboxStatus.RECEIVED, attempts=0))
            writer.flush()
            started = time.monotonic()
            with session_factory(reads)() as reader:
                found = read_pending(reader, 10)
            assert time.monotonic() - started < 5  # (a write-lock wait would last the busy timeout, 30 s)
            assert len(found) == 3  # the uncommitted row is not seen
    finally:
        reads.dispose()


def test_a_batch_hands_sqlites_write_lock_over_once(
    sqlite_url: str, company: Company, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One gate entry per batch (its transaction), not three (two reads and the transaction)."""
    engine, reads = make_engine(sqlite_url), make_read_engine(sqlite_url)
    gate = WriteGate.for_url(sqlite_url)
    assert gate is not None
    gate.attach(engine)
    entries, batches = [0], [0]
    enter = gate.enter

    def counted_enter() -> None:
        entries[0] += 1
        enter()

    def counted_process(*args: object, **kwargs: object) -> object:
        batches[0] += 1
        return process_inbox_events(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gate, "enter", counted_enter)
    monkeypatch.setattr("crm.processor.process_inbox_events", counted_process)
    try:
        sessions = session_factory(engine)
        store_orders(sessions, clock, 20)
        entries[0] = 0
        processor = InboxProcessor(sessions, company, clock, doorbell=None, reads=session_factory(reads))
        assert processor.drain() == 20
        assert batches[0] >= 1 and entries[0] == batches[0]
        assert counts(sessions)[1:] == (20, 0)
    finally:
        engine.dispose()
        reads.dispose()
        gate.close()


def test_a_batch_ended_early_for_a_waiting_store_leaves_the_rest_for_the_next(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch ends after its first row (its time is up and, with no gate to ask, a store is
    assumed to wait): the rows not reached stay received, are read again, and each opens once."""
    store_orders(sessions, clock, 12)
    with sessions() as session:
        rows = read_pending(session, 5)
    answered = process_inbox_events(sessions, company, [row.id for row in rows], clock.now(), rows=rows,
                                    enough=lambda: True)
    assert [p.id for p in answered] == [rows[0].id] and counts(sessions) == (1, 1, 11)
    monkeypatch.setattr(processor_module, "SQLITE_BATCH_SECONDS", 1e-9)
    assert InboxProcessor(sessions, company, clock, doorbell=None).drain() == 11
    assert counts(sessions) == (12, 12, 0)


def test_two_processors_racing_on_the_same_rows_open_each_case_once(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    store_orders(sessions, clock, 40)
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        InboxProcessor(sessions, company, clock, doorbell=None).drain()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert counts(sessions) == (40, 40, 0)


def test_the_ring_wakes_the_processor_long_before_it_would_look_on_its_own(
    sessions: sessionmaker[Session],
    company: Company,
    clock: SimulatedClock,
    bell: Doorbell,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
) -> None:
    monkeypatch.setattr(processor_module, "POLL_SECONDS", 60.0)
    processor = InboxProcessor(sessions, company, clock, doorbell=bell)
    stop = threading.Event()
    thread = threading.Thread(target=processor.run, args=(stop,))
    ringer = Doorbell(db_url)
    thread.start()
    try:
        time.sleep(0.2)  # it has looked once and waits for the bell
        store_orders(sessions, clock, 5)
        started = time.monotonic()
        ringer.ring()
        while counts(sessions)[0] < 5 and time.monotonic() - started < 30:
            time.sleep(0.02)
        assert counts(sessions) == (5, 5, 0) and time.monotonic() - started < 30
    finally:
        stop.set()
        ringer.ring()
        thread.join(30)
        ringer.close()


def test_the_http_app_stores_and_a_processor_process_opens_each_acknowledged_event_once(
    db_url: str,
    tmp_path: Path,
    clock: SimulatedClock,
) -> None:
    """Across processes: every 2xx is a stored row, and each becomes exactly one case."""
    config = write_config(tmp_path)
    env = {**os.environ, **ENV, "SLAFLOW_DATABASE_URL": db_url, "SLAFLOW_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "slaflow.commands.crm", "work"], cwd=ROOT, env=env)
    engine = make_engine(db_url)
    try:
        link = ProcessorLink.for_url(db_url)
        with serving(db_url, config, clock, ENV, processor=link) as client:
            ids = set()
            for n in range(30):
                body, headers = samples.generic(
                    {
                        "entity": "order",
                        "entity_id": f"x-{n}",
                        "stage": "rush_requested",
                        "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "r"},
                    },
                    secret=ENV["SLAFLOW_GENERIC_SECRET"],
                    timestamp=int(clock.now().timestamp()),
                )
                for _ in range(2):  # the CRM delivers each twice
                    response = client.post("/webhooks/generic", content=body, headers=headers)
                    assert response.status_code == 200
                    ids.add(response.json()["id"])
            assert len(ids) == 30
        link.doorbell.close()
        deadline = time.monotonic() + 60
        factory = sessionmaker(engine)
        while counts(factory)[2] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert counts(factory) == (30, 30, 0)
    finally:
        child.terminate()
        assert child.wait(30) == 0  # SIGTERM stops it cleanly
        engine.dispose()


def test_a_processor_started_by_serve_ends_when_serve_is_killed(db_url: str, tmp_path: Path) -> None:
    """`slaflow serve` killed with SIGKILL cannot stop its processor child: the child notices."""
    config = write_config(tmp_path)
    env = {**os.environ, **ENV, "SLAFLOW_DATABASE_URL": db_url, "SLAFLOW_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    parent_code = (
        "import os, subprocess, sys, time\n"
        "env = {**os.environ, 'SLAFLOW_PROCESSOR_PARENT': str(os.getpid())}\n"
        "child = subprocess.Popen([sys.executable, '-m', 'slaflow.commands.crm', 'work'], env=env)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    time.sleep(1.0)  # (it may still be starting: it must end either way)
    parent.kill()
    parent.wait(10)
    parent.stdout.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        try:  # reaped by init once orphaned; a zombie still answers kill(0)
            if Path(f"/proc/{child_pid}/status").read_text().find("State:\tZ") >= 0:
                break
        except FileNotFoundError:
            break
        time.sleep(0.2)
    else:
        os.kill(child_pid, 9)
        raise AssertionError("the processor outlived the serve that started it")
