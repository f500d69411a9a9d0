"""The inbox processor in a process of its own (``slaflow inbox work``; ``slaflow serve`` starts it):
the HTTP process only stores webhooks, this one turns them into cases, each on its own core.

The HTTP process commits a batch of requests, then rings a `Doorbell` (one datagram on a local
socket named after the database): the processor wakes at once, reads the ``received`` rows oldest
first and processes them in batches (`process_inbox_events`: one transaction a batch, a bad row
retried on its own), until none is left. A lost ring costs at most POLL_SECONDS: the processor
also looks on its own, and the Prefect inbox flow stays the safety net for what a crash leaves.

On SQLite both processes write the same file, one writer at a time (``BEGIN IMMEDIATE`` and the
busy timeout of storage.db), and take turns through `crm.write_gate.WriteGate` (a store goes
before the processor's next transaction). A batch finds its rows and is worked out without the
lock (a read engine, `crm.planned`) and takes it once, to write; it holds it for about SQLITE_BATCH_SECONDS when
a store waits (sized at the pace measured so far, and ended after any row once the time is up
and a store waits), so a webhook waits at most about that to be stored, and is four times as
large when none waits (a backlog drains in fewer, cheaper transactions). On PostgreSQL rows
are locked one by one and a batch is as large as the backlog allows (up to MAX_BATCH)."""

from __future__ import annotations

import errno
import hashlib
import logging
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.vocabulary import InboxStatus
from crm.api.http import CrmApiError
from crm.api.registry import ApiRegistry
from crm.parking import expire_parked
from crm.processing import process_inbox_events, read_pending
from crm.write_gate import WriteGate
from org.chart import Company
from storage.db import normalise_url
from storage.faults import describe, is_unavailable
from storage.models import InboxEvent

log = logging.getLogger(__name__)

PROCESSOR_ENV = "SLAFLOW_INBOX_PROCESSOR"
"""``process``: the HTTP app (``api.app:app_from_env``) stores only and wakes the processor process."""
POLL_SECONDS = 1.0
"""How long the processor waits for a ring before it looks for stored rows anyway."""
SQLITE_BATCH_SECONDS = 0.010
"""About how long one batch may hold SQLite's write lock: a webhook's store waits meanwhile, and
1,000 req/s from 16 connections leave a request 16 ms on average (bench/webhooks.py). Counted in
the CPU time the processor spends holding the lock (`WriteGate.held_seconds`): a batch worked out
in a write plan (`crm.planned`) holds it only while its writes run, about half of its time, so
its batches are about twice as large (fewer commits, each ~1 ms of writing the WAL, whatever the
batch's size). CPU time, not wall-clock time: on a loaded machine the wall-clock time of a batch
stretches with the other processes' share, and batches cut by it would be small, their fixed
costs paid per few rows, so processing slowed most where the cores were scarcest."""
MIN_BATCH = 4
"""Each batch hands SQLite's lock to the store and back: below this, a busy machine's scheduling
delays at each handoff, not the work, set the pace."""
MAX_BATCH = 256
STORAGE_RETRY_SECONDS = 1.0
HOUSEKEEPING_SECONDS = 60.0
MAX_API_RETRIES = 10


class Doorbell:
    """A datagram socket per database, in Linux's abstract namespace (no file to clean up).

    `ring` never blocks and never fails (nobody listening, or the processor's buffer full while it
    is busy anyway: the datagram is dropped); `wait` returns when rung or after ``timeout``.
    Elsewhere than Linux there is no bell and the processor polls."""

    def __init__(self, database_url: str) -> None:
        digest = hashlib.sha256(normalise_url(database_url).encode()).hexdigest()[:24]
        self.address = f"\0slaflow-inbox-{digest}"
        self.enabled = sys.platform.startswith("linux")
        self._sender: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def ring(self) -> None:
        if not self.enabled:
            return
        try:
            with self._lock:
                if self._sender is None:
                    self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sender.setblocking(False)
                self._sender.sendto(b"!", self.address)
        except OSError:
            pass  # nobody listening, or the processor has rings queued already

    def listen(self) -> bool:
        """Take the bell (False when another processor of this database has it: poll instead)."""
        if not self.enabled:
            return False
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listener.bind(self.address)
        except OSError as exc:
            listener.close()
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
        listener.setblocking(False)
        self._listener = listener
        return True

    def wait(self, timeout: float) -> bool:
        """True if rung within ``timeout`` (every ring queued so far is consumed)."""
        if self._listener is None:
            time.sleep(timeout)
            return False
        ready, _, _ = select.select([self._listener], [], [], timeout)
        rung = False
        while ready:
            try:
                self._listener.recv(64)
                rung = True
            except BlockingIOError:
                break
        return rung

    def close(self) -> None:
        for sock in (self._sender, self._listener):
            if sock is not None:
                sock.close()
        self._sender = self._listener = None


@dataclass(frozen=True)
class ProcessorLink:
    """What the HTTP app needs of the processor process: the bell to ring after storing, and on
    SQLite the gate to store through."""

    doorbell: Doorbell
    gate: WriteGate | None

    @classmethod
    def for_url(cls, database_url: str) -> ProcessorLink:
        return cls(Doorbell(database_url), WriteGate.for_url(database_url))


class InboxProcessor:
    """Processes ``received`` rows until none is left, then waits for the bell."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        company: Company,
        clock: Clock,
        *,
        doorbell: Doorbell | None,
        apis: ApiRegistry | None = None,
        sqlite: bool = True,
        reads: sessionmaker[Session] | None = None,
        gate: WriteGate | None = None,
    ) -> None:
        """``reads``: sessions that find the rows to process without taking SQLite's write lock
        (`storage.db.make_read_engine`), so a batch hands the lock over once, for its transaction;
        by default ``factory``'s. ``gate``: the one attached to ``factory``'s engine, asked
        whether a store waits (without it, one is assumed to)."""
        self._factory, self._company, self._clock, self._apis = factory, company, clock, apis
        self._doorbell, self._sqlite, self._reads, self._gate = doorbell, sqlite, reads or factory, gate
        self._plan_with = reads if sqlite else None  # a batch is worked out before the lock (crm.planned)
        self._seconds_per_event = SQLITE_BATCH_SECONDS
        self._housekept_at: datetime | None = None
        self._retry: list[int] = []
        self.processed = 0

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set (the command's signal handler sets it)."""
        listening = self._doorbell is not None and self._doorbell.listen()
        _ = self._company.calendars  # built now (holidays, ~2 s), not in the first batch, which sizes the next ones
        log.info(
            "inbox processor started (%s)", "woken by the HTTP app" if listening else f"polling every {POLL_SECONDS} s"
        )
        while not stop.is_set():
            try:
                self._housekeeping()
                self.drain(stop)
            except Exception as exc:  # storage down or a bug: the rows stay stored; look again later
                if is_unavailable(exc):
                    log.warning(
                        "inbox processor: storage unavailable (%s); retrying in %s s",
                        describe(exc),
                        STORAGE_RETRY_SECONDS,
                    )
                else:
                    log.exception("inbox processor: processing failed; retrying in %s s", STORAGE_RETRY_SECONDS)
                stop.wait(STORAGE_RETRY_SECONDS)
                continue
            if self._doorbell is not None:
                self._doorbell.wait(POLL_SECONDS)
            else:
                stop.wait(POLL_SECONDS)

    def drain(self, stop: threading.Event | None = None) -> int:
        """Process every row stored so far (and failed rows housekeeping queued); how many."""
        done = 0
        after = 0
        while stop is None or not stop.is_set():
            size = self._batch_size()
            rows = None
            retrying = bool(self._retry)
            if retrying:
                ids, self._retry = self._retry[:size], self._retry[size:]
            else:
                with self._reads() as session:
                    rows = read_pending(session, size, after_id=after)
                if not rows:
                    return done
                ids = [row.id for row in rows]
            started = self._lock_seconds()
            answered = {p.id for p in process_inbox_events(
                self._factory, self._company, ids, self._clock.now(), apis=self._apis, rows=rows,
                enough=self._enough() if self._sqlite else None, plan_with=self._plan_with)}
            left = [i for i in ids if i not in answered]  # not reached: the lock was wanted
            if retrying:
                self._retry[:0] = left
            else:  # a row that stays received (storage fault) is not read twice in a pass
                after = left[0] - 1 if left else ids[-1]
            count = max(1, len(ids) - len(left))
            self._seconds_per_event = 0.7 * self._seconds_per_event + 0.3 * (self._lock_seconds() - started) / count
            done += len(ids) - len(left)
            self.processed += len(ids) - len(left)
        return done

    def _lock_seconds(self) -> float:
        """CPU seconds spent holding SQLite's lock so far (`WriteGate.held_seconds`); without a
        gate, all of this thread's."""
        return self._gate.held_seconds if self._gate is not None else time.thread_time()

    def _enough(self) -> Callable[[], bool]:
        """Whether a batch in progress should end (after the row it just did): its time is up
        and a store waits. Timed from the first call (after the first row: the lock is held)."""
        since: list[float] = []

        def enough() -> bool:
            if not since:
                since.append(time.thread_time())
                return False
            return (time.thread_time() - since[0] >= SQLITE_BATCH_SECONDS
                    and (self._gate is None or self._gate.store_waiting()))

        return enough

    def _batch_size(self) -> int:
        if not self._sqlite:
            return MAX_BATCH
        # Four times as many when no store waits (a backlog drains in fewer transactions; a drain
        # of 300 rows cost ~2.5 ms of CPU a case at 4 rows a batch, ~1.8 at 16, no less at 64): if
        # one comes meanwhile, `_enough` ends the batch when its time is up, and the rows not
        # reached are read again.
        idle = self._gate is not None and not self._gate.store_waiting()
        return max(MIN_BATCH, min(MAX_BATCH, int((4 if idle else 1) * SQLITE_BATCH_SECONDS / self._seconds_per_event)))

    def _housekeeping(self) -> None:
        now = self._clock.now()
        if self._housekept_at is not None and (now - self._housekept_at).total_seconds() < HOUSEKEEPING_SECONDS:
            return
        self._housekept_at = now
        self._retry = housekeeping(self._factory, now)


def housekeeping(factory: sessionmaker[Session], now: datetime) -> list[int]:
    """Parked events whose time ran out become ``expired``; the rows that failed because a CRM's
    API was rate-limited or down (fewer than MAX_API_RETRIES tries) are returned to retry."""
    with factory.begin() as session:
        expire_parked(session, now)
        return list(
            session.scalars(
                sql_select(InboxEvent.id)
                .where(
                    InboxEvent.status == InboxStatus.FAILED,
                    InboxEvent.attempts < MAX_API_RETRIES,
                    InboxEvent.last_error.like(f"{CrmApiError.__name__}:%"),
                )
                .order_by(InboxEvent.id)
                .limit(100)
            )
        )
