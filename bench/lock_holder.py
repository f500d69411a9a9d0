"""A writer that keeps taking SQLite's write lock in short turns, as the inbox processor does
while a CRM burst arrives (each batch of cases is one write transaction): bench/dashboard.py
times the pages again while it runs, to show whether a reader queues behind the writer."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType


class LockHolder:
    """Hold the write lock ``hold_ms`` at a time with ``gap_ms`` between turns, in a thread."""

    def __init__(self, path: Path, *, hold_ms: float = 20.0, gap_ms: float = 5.0) -> None:
        self.path, self.hold, self.gap = path, hold_ms / 1000, gap_ms / 1000
        self.turns = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-holder", daemon=True)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            while not self._stop.is_set():
                connection.execute("BEGIN IMMEDIATE")
                time.sleep(self.hold)  # a batch's writes (the bench's readers only need the lock held)
                connection.execute("COMMIT")
                self.turns += 1
                time.sleep(self.gap)
        finally:
            connection.close()

    def __enter__(self) -> LockHolder:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
