"""Turns at SQLite's write lock for the webhook path's two processes: the HTTP app's store and the
inbox processor.

SQLite lets one writer in at a time, and a writer kept out sleeps in its busy handler (1, 2, 5,
10, 15, 20, 25 ... 100 ms) instead of waiting for the lock to be released: against a processor
that takes the lock again right after each transaction, the store of a webhook slept for up to a
second (bench/webhooks.py). Both sides therefore also take a file lock (``flock``: the kernel
wakes a waiter as soon as it is released) beside the database, ``<file>-inbox.lock``, and the
store goes first: it announces itself with a shared lock on ``<file>-inbox.turn`` while it
waits, and the processor takes that one exclusively (and lets it go) before each transaction,
so it waits for a store in progress. A store then waits for at most one processor transaction.

SQLite's own locking stays what guarantees correctness (``BEGIN IMMEDIATE``): the gate only
decides who goes next, and a writer that does not take it (the REST API, the Prefect inbox flow)
queues in SQLite's busy handler as before. PostgreSQL has no gate (rows are locked one by one)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from storage.db import normalise_url


class WriteGate:
    def __init__(self, database_file: Path) -> None:
        self.lock_path = Path(f"{database_file}-inbox.lock")
        self.turn_path = Path(f"{database_file}-inbox.turn")
        self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        self._turn_fd = os.open(self.turn_path, os.O_RDWR | os.O_CREAT, 0o600)
        self._mutex = threading.RLock()  # one holder per process; nested sessions re-enter
        self._depth = 0
        self._since = 0.0
        self.held_seconds = 0.0
        """CPU time the holding thread spent with the gate held, in all (the processor sizes its
        batches by the lock time a row costs: planned, that is a part of the row's whole time)."""

    @classmethod
    def for_url(cls, database_url: str) -> WriteGate | None:
        """The gate of a SQLite file database; None for PostgreSQL and in-memory SQLite."""
        url = make_url(normalise_url(database_url))
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return cls(Path(url.database).resolve())

    @contextmanager
    def storing(self) -> Iterator[None]:
        """Around the HTTP app's store transaction: first in line."""
        with self._mutex:
            fcntl.flock(self._turn_fd, fcntl.LOCK_SH)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                fcntl.flock(self._turn_fd, fcntl.LOCK_UN)

    def enter(self) -> None:
        """The processor's side, before a transaction: after any store waiting or in progress."""
        self._mutex.acquire()
        self._depth += 1
        if self._depth > 1:
            return
        fcntl.flock(self._turn_fd, fcntl.LOCK_EX)  # waits while a store holds its turn
        fcntl.flock(self._turn_fd, fcntl.LOCK_UN)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._since = time.thread_time()

    def store_waiting(self) -> bool:
        """Whether a store waits for its turn or is in progress: the processor, holding the lock,
        asks between two rows of a batch whether to end it there."""
        try:
            fcntl.flock(self._turn_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._turn_fd, fcntl.LOCK_UN)
        return False

    def leave(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.held_seconds += time.thread_time() - self._since
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._mutex.release()

    def attach(self, engine: Engine) -> None:
        """Every connection the processor's engine hands out holds the gate until it is returned
        (a session's whole transaction, its ``BEGIN IMMEDIATE`` to its commit)."""

        def checkout(*_: Any) -> None:
            self.enter()

        def checkin(*_: Any) -> None:
            self.leave()

        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", checkin)

    def close(self) -> None:
        for fd in (self._lock_fd, self._turn_fd):
            os.close(fd)
