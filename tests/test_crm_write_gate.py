"""The write gate of the webhook path on SQLite: a store waits for at most the processor's
transaction in progress, however eagerly the processor comes back for the next one; the
processor's engine holds the gate for each connection it hands out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from crm.write_gate import WriteGate
from storage.db import make_engine


def test_a_store_goes_before_the_processors_next_transaction(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    processor, http = WriteGate.for_url(url), WriteGate.for_url(url)  # each its own files: as two processes
    assert processor is not None and http is not None
    stop, held = threading.Event(), threading.Event()

    def eager_processor() -> None:  # back for the next transaction at once, for as long as the test runs
        while not stop.is_set():
            processor.enter()
            held.set()
            time.sleep(0.05)
            processor.leave()

    thread = threading.Thread(target=eager_processor)
    thread.start()
    try:
        assert held.wait(10)
        waits = []
        for _ in range(5):
            started = time.monotonic()
            with http.storing():
                waits.append(time.monotonic() - started)
        # one 50 ms transaction at most (plus a busy machine's scheduling), not the whole loop
        assert max(waits) < 1.0, waits
    finally:
        stop.set()
        thread.join(10)
        processor.close()
        http.close()


def test_the_processors_engine_holds_the_gate_while_a_connection_is_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    processor, http = WriteGate.for_url(url), WriteGate.for_url(url)
    assert processor is not None and http is not None
    engine = make_engine(url)
    processor.attach(engine)
    stored_at: list[float] = []

    def store() -> None:
        with http.storing():
            stored_at.append(time.monotonic())

    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            with engine.connect():  # a second connection out in the same process re-enters the gate
                pass
            thread = threading.Thread(target=store)
            thread.start()
            time.sleep(0.3)
            released = time.monotonic()
            assert stored_at == []  # waits while the processor's connection is out
        thread.join(10)
        assert stored_at and stored_at[0] >= released
    finally:
        engine.dispose()
        processor.close()
        http.close()


def test_there_is_no_gate_on_postgresql_nor_in_memory() -> None:
    assert WriteGate.for_url("postgresql://postgres@127.0.0.1:5432/x") is None
    assert WriteGate.for_url("sqlite://") is None


def test_the_processor_sees_whether_a_store_waits_or_is_in_progress(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    processor, http = WriteGate.for_url(url), WriteGate.for_url(url)
    assert processor is not None and http is not None
    try:
        assert not processor.store_waiting()
        with http.storing():
            assert processor.store_waiting()
        assert not processor.store_waiting()
        with http.storing():  # the probe itself never keeps a store out
            pass
    finally:
        processor.close()
        http.close()


def test_it_counts_the_cpu_time_spent_holding_it_and_nothing_else(tmp_path: Path) -> None:
    """The processor sizes its batches by the lock time a row costs (a planned batch holds the
    lock for part of its work only): busy work outside the gate is not counted, inside it is."""
    gate = WriteGate.for_url(f"sqlite:///{tmp_path / 'gate.db'}")
    assert gate is not None

    def busy(seconds: float) -> None:
        until = time.thread_time() + seconds
        while time.thread_time() < until:
            pass

    try:
        busy(0.05)
        assert gate.held_seconds == 0.0
        gate.enter()
        gate.enter()  # nested: counted once, from the outer enter to the outer leave
        busy(0.05)
        gate.leave()
        busy(0.02)
        gate.leave()
        busy(0.05)
        assert 0.07 <= gate.held_seconds < 0.12
    finally:
        gate.close()
