"""The engine's hot statements, compiled once per dialect and run on the driver's cursor.

Why: a trigger runs about a dozen small statements, and ``Connection.execute`` spends ~70 µs on
each (cache key, parameter construction, result set-up) where the driver needs ~5 µs: on SQLite
that overhead was most of a trigger's cost (bench/engine.py). A `Prepared` statement keeps the
SQL text, the order of its parameters and the type processors of its columns (aware UTC
datetimes, JSON documents) per dialect, and runs on the session's own connection, so it shares
the session's transaction. Errors go through SQLAlchemy's own handling
(``Connection._handle_dbapi_exception``): the same exception classes, ``handle_error`` hooks and
disconnect detection as any statement. No ``before/after_cursor_execute`` events fire for them
(nothing in slaflow listens to those).

Only what the hot path needs is supported: one statement with named bind parameters, no
expanding ``IN``, no Python-side column defaults (every inserted column is given), results as
plain named tuples. Anything else stays on ``Connection.execute``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    Dialect,
    Insert,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import SelectBase
from sqlalchemy.types import TypeEngine

from storage.deferred import QUEUED, Write, defer, pipelined, run_with_queue
from storage.models.base import UtcDateTime
from storage.write_plan import PlanAborted, plan_of

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Slot:
    """One driver parameter: the caller's value under ``key`` (processed), or a literal of the
    statement's own (``kind = 'step'``, ``LIMIT 1``), processed once at compile time."""

    key: str | None
    process: Processor
    literal: Any = None


@dataclass
class _Compiled:
    sql: str
    placeholders: tuple[str, ...]
    slots: tuple[_Slot, ...]
    positional: bool
    row_type: type[tuple[Any, ...]] | None
    column_types: tuple[TypeEngine[Any], ...]
    dialect: Dialect
    is_select: bool = False
    results: tuple[Processor, ...] | None = None
    """The result columns' processors, known at the first fetch (some depend on the driver's
    type code of the column, e.g. PostgreSQL's numeric types)."""

    def __post_init__(self) -> None:
        # Precomputed so that binding a row is one C-level item lookup plus the few processors.
        keyed = [n for n, slot in enumerate(self.slots) if slot.key is not None]
        keys = [self.slots[n].key for n in keyed]
        self._template = [slot.literal for slot in self.slots]
        self._keyed = keyed if len(keyed) < len(self.slots) else None
        self._get: Callable[[Mapping[str, Any]], Any] | None = itemgetter(*keys) if keys else None
        self._one = len(keys) == 1
        self._processed = [(n, slot.process) for n, slot in enumerate(self.slots)
                           if slot.key is not None and slot.process is not None]
        self._converters: list[tuple[int, Callable[[Any], Any]]] = []

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        got = () if self._get is None else (self._get(params),) if self._one else self._get(params)
        if self._keyed is None:
            values = list(got)
        else:
            values = self._template.copy()
            for n, value in zip(self._keyed, got, strict=True):
                values[n] = value
        for n, process in self._processed:
            values[n] = process(values[n])
        return values if self.positional else dict(zip(self.placeholders, values, strict=True))

    def rows(self, cursor: DBAPICursor, raws: Sequence[Sequence[Any]]) -> list[Any]:
        assert self.row_type is not None
        if self.results is None:
            codes = [column[1] for column in cursor.description or ()]
            self.results = tuple(_result_processor(type_, self.dialect, code)
                                 for type_, code in zip(self.column_types, codes, strict=True))
            self._converters = [(n, process) for n, process in enumerate(self.results) if process is not None]
        row_type, converters, rows = self.row_type, self._converters, []
        for raw in raws:
            values = list(raw)
            for n, process in converters:
                values[n] = process(values[n])
            rows.append(row_type(*values))
        return rows


class Prepared:
    """A statement compiled once per dialect (lazily: the dialect is known at first use)."""

    def __init__(self, statement: ClauseElement | Mapping[str, ClauseElement], *,
                 with_id: tuple[str, Prepared] | None = None) -> None:
        """``statement``, or one per dialect name where they differ (ON CONFLICT). Compiled once
        per dialect name: the type processors come from the first engine of that dialect, so every
        engine must be configured alike (they are: `storage.db.make_engine`). ``with_id``: for an
        insert whose answer is the new row's id, its table and the same insert taking that id as
        the parameter ``id`` (a write plan gives it: `storage.write_plan`)."""
        self.statement = statement
        self.with_id = with_id
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            statement = self.statement if isinstance(self.statement, ClauseElement) else self.statement[dialect.name]
            compiled = self._by_dialect[dialect.name] = _compile(statement, dialect)
        return compiled

    def _run(self, session: Session, params: Mapping[str, Any]) -> tuple[_Compiled, DBAPICursor]:
        conn, driver, pipelined = _connection(session)
        compiled = self._compiled(conn.dialect)
        if plan_of(conn) is not None and not compiled.is_select:
            raise PlanAborted(f"a write plan cannot give this statement's answer: {compiled.sql[:60]}")
        parameters = compiled.parameters(params)
        if pipelined and QUEUED in conn.info:  # writes wait for this statement: one pipeline (storage.deferred)
            return compiled, run_with_queue(conn, driver, Write(compiled.sql, parameters))
        return compiled, _execute(conn, driver, compiled.sql, parameters)

    def later(self, session: Session, params: Mapping[str, Any], check: Callable[[int], None] | None = None) -> None:
        """Run it when the transaction next talks to the database (on PostgreSQL, in one pipeline
        with what else waits; on SQLite now): for a write whose result nobody reads. ``check`` gets
        its row count then."""
        conn, driver, pipelined = _connection(session)
        compiled = self._compiled(conn.dialect)
        if (plan := plan_of(conn)) is not None:
            plan.record(Write(compiled.sql, compiled.parameters(params), check=check))
            return
        if pipelined:
            defer(conn, driver, Write(compiled.sql, compiled.parameters(params), check=check))
            return
        cursor = _execute(conn, driver, compiled.sql, compiled.parameters(params))
        if check is not None:
            check(int(cursor.rowcount))
        cursor.close()

    def later_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """`execute_many`, sent as `later` sends."""
        if not rows:
            return
        conn, driver, pipelined = _connection(session)
        compiled = self._compiled(conn.dialect)
        batch = [compiled.parameters(row) for row in rows]
        if (plan := plan_of(conn)) is not None:
            plan.record(Write(compiled.sql, batch, many=True))
        elif pipelined:
            defer(conn, driver, Write(compiled.sql, batch, many=True))
        else:
            _execute(conn, driver, compiled.sql, batch, many=True).close()

    def execute(self, session: Session, params: Mapping[str, Any]) -> int:
        """Run it; the number of rows it changed."""
        _, cursor = self._run(session, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def first(self, session: Session, params: Mapping[str, Any]) -> Any:
        """The first row (a named tuple of processed values), or None."""
        compiled, cursor = self._run(session, params)
        raw = cursor.fetchone()
        row = None if raw is None else compiled.rows(cursor, [raw])[0]
        cursor.close()
        return row

    def all(self, session: Session, params: Mapping[str, Any]) -> list[Any]:
        compiled, cursor = self._run(session, params)
        raws = cursor.fetchall()
        rows = compiled.rows(cursor, raws) if raws else []
        cursor.close()
        return rows

    def scalar(self, session: Session, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None. While a write plan is recorded, an insert
        ``with_id`` answers the id the plan gives its row."""
        if self.with_id is not None:
            conn = _connection(session)[0]
            if (plan := plan_of(conn)) is not None:
                table, variant = self.with_id
                new_id = plan.reserve(table)
                compiled = variant._compiled(conn.dialect)
                plan.record(Write(compiled.sql, compiled.parameters({**params, "id": new_id}),
                                         expect_id=new_id))
                return new_id
        row = self.first(session, params)
        return None if row is None else row[0]

    def execute_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run it once per row, in one driver call (PostgreSQL pipelines them)."""
        if not rows:
            return
        conn, driver, pipelined = _connection(session)
        compiled = self._compiled(conn.dialect)
        batch = [compiled.parameters(row) for row in rows]
        if (plan := plan_of(conn)) is not None:
            plan.record(Write(compiled.sql, batch, many=True))
            return
        if pipelined and QUEUED in conn.info:
            run_with_queue(conn, driver, Write(compiled.sql, batch, many=True)).close()
            return
        _execute(conn, driver, compiled.sql, batch, many=True).close()


def _execute(conn: Connection, driver: DBAPIConnection, sql: str, parameters: Any, many: bool = False) -> DBAPICursor:
    """``sql`` on a cursor of its own, now; its error as SQLAlchemy's."""
    cursor = driver.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
    except BaseException as exc:
        _raise_as_sqlalchemy(conn, exc, sql, parameters, cursor)
    return cursor


def prepared_insert(
    table: Table, columns: Sequence[str], *, returning: str | None = None, unless_exists: Sequence[str] = ()
) -> Prepared:
    """An INSERT of exactly ``columns`` (each a bind parameter of the column's own name and type);
    with ``unless_exists``, ``ON CONFLICT (those columns) DO NOTHING`` (then ``returning`` gives
    no row for a row that existed). Returning ``id``, it can take the id a write plan gives."""
    with_id = None
    if returning == "id" and "id" not in columns:
        with_id = (table.name, prepared_insert(table, (*columns, "id"), returning="id", unless_exists=unless_exists))
    values = {name: bindparam(name, type_=table.c[name].type) for name in columns}
    if not unless_exists:
        statement = insert(table).values(values)
        return Prepared(statement.returning(table.c[returning]) if returning is not None else statement,
                        with_id=with_id)
    statements: dict[str, Insert] = {
        "sqlite": sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=list(unless_exists)),
        "postgresql": pg_insert(table).values(values).on_conflict_do_nothing(index_elements=list(unless_exists)),
    }
    if returning is not None:
        statements = {name: statement.returning(table.c[returning]) for name, statement in statements.items()}
    return Prepared(statements, with_id=with_id)


def one_of(column: ColumnElement[Any], name: str) -> dict[str, ColumnElement[bool]]:
    """``column`` is one of the values of the list bound as ``name``, per dialect (a `Prepared`
    cannot expand ``IN``): PostgreSQL's ``= ANY(array)``, SQLite's ``IN`` over ``json_each`` of the
    list as JSON text. For ``Prepared({dialect: select(...).where(condition) ...})``."""
    listed = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
    return {
        "postgresql": column == any_(bindparam(name, type_=ARRAY(column.type))),
        "sqlite": column.in_(select(listed.c.value).scalar_subquery()),
    }


_CONNECTION = "slaflow.prepared.connection"


def _connection(session: Session) -> tuple[Connection, DBAPIConnection, bool]:
    """The session's connection, its driver connection and whether its writes may wait
    (`storage.deferred.pipelined`), looked up once per transaction (``Session.connection()``
    costs more than running a statement on SQLite)."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    cached: tuple[Any, tuple[Connection, DBAPIConnection, bool]] | None = session.info.get(_CONNECTION)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    # Begins the transaction if none has begun, and a savepoint the session began since (the
    # session emits SAVEPOINT only when next asked for its connection): keyed by the innermost.
    conn = session.connection()
    driver = conn.connection.dbapi_connection
    assert driver is not None
    found = (conn, driver, pipelined(conn))
    session.info[_CONNECTION] = (session.get_nested_transaction() or session.get_transaction(), found)
    return found


def _raise_as_sqlalchemy(conn: Connection, exc: BaseException, sql: str, params: Any, cursor: DBAPICursor) -> None:
    conn._handle_dbapi_exception(exc, sql, params, cursor, None)


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch:
        missing = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        raise TypeError(f"a prepared statement must give every column with a Python default: {missing}")
    if any(param.expanding for param in compiled.binds.values()):
        raise TypeError("a prepared statement cannot expand IN lists; use = ANY on PostgreSQL or Connection.execute")
    positional = bool(compiled.positional)
    names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
    slots = tuple(_slot(compiled.binds[name], dialect) for name in names)
    escaped: dict[str, str] = dict(compiled.escaped_bind_names or {})
    placeholders = tuple(escaped.get(name, name) for name in names)
    row_type: type[tuple[Any, ...]] | None = None
    columns = list(
        statement.selected_columns if isinstance(statement, SelectBase)
        else statement.exported_columns if isinstance(statement, UpdateBase) else ()
    )
    if columns:
        row_type = namedtuple("Row", [column.key or f"c{n}" for n, column in enumerate(columns)], rename=True)  # type: ignore[misc,no-redef]
    column_types = tuple(column.type.dialect_impl(dialect) for column in columns)
    return _Compiled(compiled.string, placeholders, slots, positional, row_type, column_types, dialect,
                     is_select=isinstance(statement, SelectBase))


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What `UtcDateTime` followed by SQLAlchemy's SQLite DATETIME processor writes (the UTC wall
    time as ``YYYY-MM-DD HH:MM:SS.ffffff``), in one call; a naive value is refused the same way."""
    if value is None:
        return None
    return _utc_text(value)


@lru_cache(maxsize=256)
def _utc_text(value: datetime) -> str:
    """Cached: a trigger binds the same few instants (its ``now``, a deadline) a dozen times, and
    equal aware datetimes are equal instants, so they have the same text (a naive one raises,
    which is never cached)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use an aware UTC datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_utc_datetime(value: str | None) -> datetime | None:
    """What SQLAlchemy's SQLite DATETIME processor followed by `UtcDateTime` reads (an aware UTC
    datetime), in one call."""
    if value is None:
        return None
    found = datetime.fromisoformat(value)
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def _result_processor(type_: TypeEngine[Any], dialect: Dialect, code: Any) -> Processor:
    if isinstance(type_, UtcDateTime) and dialect.name == "sqlite":
        return sqlite_utc_datetime  # the same value in one step (a trigger reads ~10 instants)
    return type_.result_processor(dialect, code)


def _slot(param: BindParameter[Any], dialect: Dialect) -> _Slot:
    process = param.type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(param.type, UtcDateTime) and dialect.name == "sqlite":
        process = sqlite_utc_text  # the same text in one step (a trigger binds ~25 datetimes)
    if param.required:
        return _Slot(param.key, process)
    literal = param.effective_value
    return _Slot(None, None, literal if process is None or literal is None else process(literal))
