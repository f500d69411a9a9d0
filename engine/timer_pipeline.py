"""A sweep group's writes sent without waiting (PostgreSQL): psycopg's pipeline mode while the
group's warnings and breaches fire, so their breach rows, clock updates and outbox rows go to the
server together with the next read or the group's end instead of one round trip each.

Why it is safe, and where it is not used:

- In pipeline mode a statement's result arrives only when something fetches (a `Prepared` read
  does: it flushes what is queued and waits) or the pipeline ends. What the warning and breach
  handlers write is never read back in the same group before a fetch, and their writes ignore
  ``rowcount`` (which reads -1 until the result arrives).
- A statement run through SQLAlchemy (``Connection.execute``) would see no result description
  and return no rows, so the pipeline ends (`stop`) before any: a ``before_cursor_execute``
  listener on the group's connection ends it. The other kinds (automatic triggers, escalations
  that reassign, notices, hooks) run the engine's trigger path, which reads ``rowcount``
  (optimistic moves): the pipeline ends before their handlers, and before a timer whose rows are
  read again.
- An error of a queued statement is raised by the next fetch or by `stop`, inside the group's
  transaction: the group is rolled back and its timers fire one by one (`engine.timers`), outside
  any pipeline, where the failing timer is recorded.

SQLite has no pipeline: there every call here does nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from core.vocabulary import TimerKind

if TYPE_CHECKING:
    import psycopg

PIPELINED = frozenset({TimerKind.WARNING, TimerKind.BREACH})
"""The kinds whose handlers only write (`engine.timer_kinds._warn`, ``_breach``) and emit events
whose subscribers only write (notifications, CRM write-back)."""


class GroupPipeline:
    """Pipeline mode on the group's driver connection, started and stopped as its timers need."""

    def __init__(self, session: Session) -> None:
        self._conn: Connection | None = None
        self._mode: AbstractContextManager[Any] | None = None
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            self._conn = conn
            event.listen(conn, "before_cursor_execute", self._before_statement)

    @property
    def enabled(self) -> bool:
        """PostgreSQL: the group's writes can wait in a pipeline."""
        return self._conn is not None

    @property
    def active(self) -> bool:
        return self._mode is not None

    def before(self, kind: str | None) -> None:
        """Before a timer of ``kind`` fires (None: its rows are read again): start the pipeline
        for the kinds that only write, stop it for the others."""
        if kind is not None and kind in PIPELINED:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        if self._conn is None or self._mode is not None:
            return
        driver = cast("psycopg.Connection[Any]", self._conn.connection.dbapi_connection)
        mode = driver.pipeline()
        mode.__enter__()
        self._mode = mode

    def stop(self, exc: BaseException | None = None) -> None:
        """End pipeline mode: wait for every queued result, raising the first error among them
        (with ``exc``, the group is failing already: psycopg only logs its own error)."""
        mode, self._mode = self._mode, None
        if mode is not None:
            mode.__exit__(type(exc) if exc is not None else None, exc, exc.__traceback__ if exc is not None else None)

    def close(self, exc: BaseException | None = None) -> None:
        """`stop`, and stop listening to the connection (the group is over)."""
        try:
            self.stop(exc)
        finally:
            if self._conn is not None:
                event.remove(self._conn, "before_cursor_execute", self._before_statement)
                self._conn = None

    def _before_statement(self, *_: Any) -> None:
        self.stop()

    def __enter__(self) -> GroupPipeline:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(exc)
