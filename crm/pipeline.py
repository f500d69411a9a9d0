"""Store-then-answer: one thread owns the database writes of the webhook path.

Requests hand their row to the thread and wait; it commits whatever has queued up in ONE
transaction (group commit), then answers them all. Between two batches it processes a few stored
rows in one transaction (`process_inbox_events`), as many as fit in PROCESS_BUDGET_SECONDS at the
pace measured so far, so a request waits for at most that, never for its own processing, and on
SQLite no two writers in this process wait on each other's lock. Rows left unprocessed at shutdown stay
``received`` in the database and are picked up at the next start (or by ``inbox replay``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.vocabulary import InboxStatus
from crm.api.registry import ApiRegistry
from crm.events import CrmEvent
from crm.inbox import InboxRecord, StoredEvent, pending_inbox_ids, store_many
from crm.processing import process_inbox_events
from crm.processor import HOUSEKEEPING_SECONDS, housekeeping
from crm.write_gate import WriteGate
from org.chart import Company
from storage.faults import describe, is_unavailable

log = logging.getLogger(__name__)
STORAGE_RETRY_SECONDS = 1.0
"""Pause before processing again while the database is unavailable."""
PROCESS_BUDGET_SECONDS = 0.02
"""About how long one processing batch may keep the requests that arrive meanwhile waiting."""
MAX_PROCESS_BATCH = 64
MAX_KEPT_EVENTS = 20_000
"""Rows whose parsed events are kept in memory for processing (beyond, their bodies are read again)."""


@dataclass
class _Submission:
    record: InboxRecord
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[StoredEvent]


class PipelineStopped(RuntimeError):
    """The pipeline is shutting down; the request was not stored."""


class InboxPipeline:
    def __init__(
        self, factory: sessionmaker[Session], company: Company, clock: Clock, *, process: bool = True,
        max_batch: int = 256, apis: ApiRegistry | None = None, on_stored: Callable[[], None] | None = None,
        store_gate: WriteGate | None = None,
    ) -> None:
        """``process=False``: store only; ``on_stored`` is called after each commit that stored a
        new row (``crm.processor.Doorbell.ring``: the processor process takes it from there), and
        ``store_gate`` is taken around each store (its turn at SQLite's lock before the processor's)."""
        self._factory, self._company, self._clock, self._apis = factory, company, clock, apis
        self._on_stored, self._gate = on_stored, store_gate
        self._process, self._max_batch = process, max_batch
        self._cond = threading.Condition()
        self._incoming: deque[_Submission] = deque()
        self._to_process: deque[int] = deque()
        self._parsed: dict[int, list[CrmEvent]] = {}  # events read on receipt, by row, until processed
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._expired_at: datetime | None = None
        self._seconds_per_event = PROCESS_BUDGET_SECONDS  # measured as rows are processed

    def start(self, *, resume_limit: int = 10_000) -> None:
        """Start the writer thread; first queue rows a previous run stored but did not process."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            if self._process:
                with self._factory() as session:
                    self._to_process.extend(pending_inbox_ids(session, resume_limit, statuses=(InboxStatus.RECEIVED,)))
            self._thread = threading.Thread(target=self._run, name="slaflow-inbox", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            thread, self._stopping = self._thread, True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._thread = None
            self._to_process.clear()
            self._parsed.clear()

    async def submit(self, record: InboxRecord) -> StoredEvent:
        """Store a request (committed when this returns) and queue it for processing."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredEvent] = loop.create_future()
        if self._thread is None:
            self.start()
        with self._cond:
            if self._stopping:
                raise PipelineStopped("the server is shutting down")
            self._incoming.append(_Submission(record, loop, future))
            self._cond.notify()
        return await future

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything submitted is stored and processed (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._busy or self._incoming or self._to_process), timeout)

    @property
    def backlog(self) -> int:
        return len(self._to_process)

    def _run(self) -> None:
        while True:
            if self._process:
                self._housekeeping()
            with self._cond:
                while not (self._incoming or self._to_process or self._stopping):
                    self._busy = False
                    self._cond.notify_all()
                    if not self._cond.wait(HOUSEKEEPING_SECONDS):
                        break  # idle for a while: time for housekeeping
                if self._stopping and not self._incoming:
                    self._busy = False
                    self._cond.notify_all()
                    return
                self._busy = True
                batch = [self._incoming.popleft() for _ in range(min(len(self._incoming), self._max_batch))]
            if batch:
                self._store(batch)
            # A few stored rows are processed between two batches: under a burst, acceptance keeps
            # its pace (batches grow) and processing still advances.
            size = max(1, min(MAX_PROCESS_BATCH, int(PROCESS_BUDGET_SECONDS / self._seconds_per_event)))
            with self._cond:
                ids = [self._to_process.popleft() for _ in range(min(size, len(self._to_process)))]
                parsed = {i: events for i in ids if (events := self._parsed.pop(i, None)) is not None}
            if ids:
                self._process_batch(ids, parsed)

    def _store(self, batch: list[_Submission]) -> None:
        try:
            with self._gate.storing() if self._gate is not None else contextlib.nullcontext(), \
                    self._factory.begin() as session:
                stored = store_many(session, [item.record for item in batch])
        except Exception as exc:
            if len(batch) > 1:  # one bad row must not fail the others: store them one by one
                for item in batch:
                    self._store([item])
                return
            if not is_unavailable(exc):  # a storage fault is logged once, by the HTTP answer
                log.exception("inbox: storing a %s request failed", batch[0].record.source)
            _answer(batch[0], exc)
            return
        if self._on_stored is not None and any(not row.duplicate for row in stored):
            self._on_stored()
        with self._cond:
            if self._process:
                for item, row in zip(batch, stored, strict=True):
                    if not row.duplicate and row.status == InboxStatus.RECEIVED:
                        self._to_process.append(row.id)
                        if item.record.events is not None and len(self._parsed) < MAX_KEPT_EVENTS:
                            self._parsed[row.id] = item.record.events
        for item, result in zip(batch, stored, strict=True):
            _answer(item, result)

    def _process_batch(self, ids: list[int], parsed: dict[int, list[CrmEvent]]) -> None:
        started = time.perf_counter()
        try:
            process_inbox_events(self._factory, self._company, ids, self._clock.now(), apis=self._apis,
                                 parsed=parsed)
        except Exception as exc:  # the rows stay received/failed in the database: replay picks them up
            if not is_unavailable(exc):
                log.exception("inbox events %s: processing could not record their outcome", ids)
                return
            # The database is down: keep the rows queued and try again after a pause, so the
            # backlog drains by itself once the fault clears (no restart, no replay needed).
            log.warning("inbox events %s: storage unavailable (%s); retrying in %s s", ids, describe(exc),
                        STORAGE_RETRY_SECONDS)
            with self._cond:
                self._to_process.extend(ids)
                self._parsed.update(parsed)
                self._cond.wait(STORAGE_RETRY_SECONDS)
            return
        pace = (time.perf_counter() - started) / len(ids)
        self._seconds_per_event = 0.7 * self._seconds_per_event + 0.3 * pace

    def _housekeeping(self) -> None:
        """At most once a minute: parked events whose time ran out become ``expired``, and rows
        that failed because a CRM's API was rate-limited or down are queued again (10 tries)."""
        now = self._clock.now()
        if self._expired_at is not None and (now - self._expired_at).total_seconds() < HOUSEKEEPING_SECONDS:
            return
        self._expired_at = now
        try:
            again = housekeeping(self._factory, now)
        except Exception:  # never stops the pipeline; the next minute (or the inbox flow) tries again
            log.exception("inbox: housekeeping failed")
            return
        with self._cond:
            queued = set(self._to_process)
            self._to_process.extend(i for i in again if i not in queued)


def _answer(item: _Submission, outcome: StoredEvent | BaseException) -> None:
    def deliver() -> None:
        if item.future.done():
            return  # the client went away; the row is stored all the same
        if isinstance(outcome, BaseException):
            item.future.set_exception(outcome)
        else:
            item.future.set_result(outcome)

    with contextlib.suppress(RuntimeError):  # the loop is closed (shutdown): nobody is waiting any more
        item.loop.call_soon_threadsafe(deliver)
