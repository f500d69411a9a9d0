"""Turn a stored webhook into case openings and triggers.

One inbox row is processed in ONE transaction: its cases are opened or moved and its status is
set together, so a crash leaves either both or neither. The row is locked first (``FOR UPDATE``
on PostgreSQL; SQLite serialises writers), and a row already processed is left alone, so the
in-process worker, a Prefect safety net and ``slaflow inbox replay`` may all call this at once.
A failure rolls everything back and records ``failed`` with the error; the row is retried."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DuplicateCase, IllegalTransition, SlaflowError
from core.vocabulary import InboxStatus
from crm.adapters import ADAPTERS
from crm.api.http import CrmApiError
from crm.api.registry import ApiRegistry
from crm.config import SourceConfig, crm_config
from crm.enrichment import default_registry, enrich
from crm.events import CrmEvent
from crm.inbox import DONE, pending_inbox_ids
from crm.lead_hook import lead_actions
from crm.parking import apply_parked, park, parked_sources, parked_until
from crm.planned import Seen, plan_batch, replayed
from crm.rules import OPEN, PlannedAction, plan
from engine import cases, records
from org.chart import Actor, Company
from storage.faults import is_unavailable
from storage.models import Case, CaseEvent, InboxEvent
from storage.prepared import Prepared, one_of
from storage.write_plan import PlanAborted, is_planning

log = logging.getLogger(__name__)


class ProcessingError(SlaflowError):
    """The stored request cannot be processed as the configuration stands."""


@dataclass(frozen=True)
class Processed:
    """The state of an inbox row after a processing attempt."""

    id: int
    status: str
    attempts: int
    result: dict[str, Any] | None
    last_error: str | None


def integration_actor(source: str, config: SourceConfig) -> Actor:
    """The actor a CRM acts as: ``crm:<source>`` with the configured department/role memberships."""
    pairs = frozenset((dept, role) for dept, _, role in (m.partition("/") for m in config.memberships))
    return Actor(name=f"crm:{source}", memberships=pairs)


def process_inbox_event(
    factory: sessionmaker[Session], company: Company, inbox_id: int, now: datetime, *, force: bool = False,
    apis: ApiRegistry | None = None,
) -> Processed | None:
    """Process one inbox row (idempotent). ``force`` re-processes a processed/unmatched row (replay
    after a config change; opens are then reported as existing). None if the row does not exist.
    ``apis`` reads records back from the CRMs (default: the process's clients, secrets from the
    environment)."""
    try:
        with factory() as session:
            row = session.execute(select(*_READ).where(InboxEvent.id == inbox_id)).one_or_none()
            if row is None:
                return None
            if _settled(row, force):
                return _snapshot(row)
            events, notes = enrich(_events(company, row), company, apis or default_registry(company, factory))
        return _process_enriched(factory, company, inbox_id, now, events, notes, force)
    except Exception as exc:
        return _failed(factory, inbox_id, exc, force)


def process_inbox_events(
    factory: sessionmaker[Session], company: Company, inbox_ids: list[int], now: datetime, *,
    apis: ApiRegistry | None = None, parsed: Mapping[int, list[CrmEvent]] | None = None,
    rows: Sequence[Any] | None = None, enough: Callable[[], bool] | None = None,
    plan_with: sessionmaker[Session] | None = None,
) -> list[Processed]:
    """`process_inbox_event` for several rows (the pipeline's and the inbox flow's batches): one
    read, then ONE transaction for all of them. If any event fails, that transaction is rolled back
    and each row is processed on its own, so one bad event never undoes (nor doubles) the others.
    ``parsed``: the events some rows' bodies gave when they were received (the pipeline keeps
    them), so those bodies are not read again. ``rows``: the rows as `read_pending` read them (the
    processor's batches), so they are not read again either. ``enough``: asked after each row;
    True ends the transaction there (SQLite's lock is wanted), and the rows not reached are left
    ``received``, absent from the answer. ``plan_with``: SQLite read sessions to work the batch
    out on before taking the write lock (`crm.planned`)."""
    done: dict[int, Processed] = {}
    if rows is None:
        with factory() as session:
            rows = _READ_LISTED.all(session, {"ids": inbox_ids})
    ready = _read_enriched(factory, company, rows, apis or default_registry(company, factory), done, parsed or {})
    try:
        if ready:
            planned = None if plan_with is None else plan_batch(
                plan_with, lambda session, into: _settle_batch(session, company, ready, now, into, None))
            with factory.begin() as session:
                locked = _locked(session, list(ready))  # read once: the plan's check and the usual way
                if planned is not None and replayed(session, planned, _seen_of(*locked)):
                    done.update(planned.done)
                else:
                    _settle_batch(session, company, ready, now, done, enough, locked)
    except Exception as exc:
        if is_unavailable(exc):
            raise
        if len(ready) == 1:  # the one row is the bad one
            [inbox_id] = ready
            if (failed := _failed(factory, inbox_id, exc, False)) is not None:
                done[inbox_id] = failed
            return [done[i] for i in inbox_ids if i in done]
        for inbox_id, (events, notes) in ready.items():  # find the bad one: each row on its own
            try:
                processed = _process_enriched(factory, company, inbox_id, now, events, notes, False)
            except Exception as one:
                processed = _failed(factory, inbox_id, one, False)
            if processed is not None:
                done[inbox_id] = processed
    return [done[i] for i in inbox_ids if i in done]


def _settle_batch(session: Session, company: Company, ready: dict[int, tuple[list[CrmEvent], list[str]]],
                  now: datetime, done: dict[int, Processed], enough: Callable[[], bool] | None,
                  locked_read: tuple[list[Any], set[str]] | None = None) -> Seen:
    """The batch's rows locked (or ``locked_read``), applied and recorded in ``session``'s transaction,
    until ``enough``; what it read that the outcome depends on (checked again under the lock)."""
    locked, parked = locked_read if locked_read is not None else _locked(session, list(ready))
    seen = _seen_of(locked, parked)
    outcomes: list[dict[str, Any]] = []
    for n, row in enumerate(locked):
        if n and enough is not None and enough():
            break
        events, notes = ready[row.id]
        done[row.id] = _settle(session, company, row, now, events, notes, False, parked, outcomes)
    if outcomes:
        _SETTLE.execute_many(session, outcomes)  # one driver call for the batch's rows
    return seen


def _locked(session: Session, ids: list[int]) -> tuple[list[Any], set[str]]:
    """The batch's rows, locked, and the sources with parked rows (one lookup for the batch, not
    one per opened case)."""
    return _LOCK_LISTED.all(session, {"ids": ids}), parked_sources(session)


def _seen_of(locked: list[Any], parked: set[str]) -> Seen:
    return tuple((row.id, row.status) for row in locked), frozenset(parked)


def read_pending(session: Session, limit: int, *, after_id: int = 0) -> list[Any]:
    """The oldest ``received`` rows after ``after_id`` with what processing reads of them, in one
    statement (the processor's batch: no second read of the same rows)."""
    return _PENDING.all(session, {"after_id": after_id, "limit": limit})


def _read_enriched(factory: sessionmaker[Session], company: Company, rows: Sequence[Any], apis: ApiRegistry,
                   done: dict[int, Processed], parsed: Mapping[int, list[CrmEvent]],
                   ) -> dict[int, tuple[list[CrmEvent], list[str]]]:
    """The rows still to process with their enriched events; the others go to ``done``."""
    ready: dict[int, tuple[list[CrmEvent], list[str]]] = {}
    for row in rows:
        if _settled(row, False):
            done[row.id] = _snapshot(row)
            continue
        try:  # a CRM API failing for one row fails that row only
            ready[row.id] = enrich(_events(company, row, parsed.get(row.id)), company, apis)
        except Exception as exc:
            if (failed := _failed(factory, row.id, exc, False)) is not None:
                done[failed.id] = failed
    return ready


_ROW = (InboxEvent.id, InboxEvent.source, InboxEvent.account, InboxEvent.status, InboxEvent.attempts,
        InboxEvent.result, InboxEvent.last_error)
"""What settling a row needs of it: read (and locked) as plain columns, no ORM object."""
_READ = (*_ROW, InboxEvent.body, InboxEvent.raw_body)
_INBOX = cast(Table, InboxEvent.__table__)
_PENDING = Prepared(
    select(*_READ)
    .where(InboxEvent.status == InboxStatus.RECEIVED, InboxEvent.id > bindparam("after_id"))
    .order_by(InboxEvent.id)
    .limit(bindparam("limit"))
)
_READ_LISTED = Prepared({dialect: select(*_READ).where(listed).order_by(InboxEvent.id)
                         for dialect, listed in one_of(_INBOX.c.id, "ids").items()})
_LOCK_LISTED = Prepared({dialect: select(*_ROW).where(listed).order_by(InboxEvent.id).with_for_update()
                         for dialect, listed in one_of(_INBOX.c.id, "ids").items()})
"""A batch's statements, prepared (`storage.prepared`): built and compiled once, run on the driver."""
_SETTLE = Prepared(
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("row_id"))
    .values(status=bindparam("new_status"), result=bindparam("new_result", type_=_INBOX.c.result.type),
            processed_at=bindparam("now", type_=_INBOX.c.processed_at.type),
            expires_at=bindparam("until", type_=_INBOX.c.expires_at.type), last_error=None,
            attempts=_INBOX.c.attempts + 1)
)
"""A processed row's outcome (executed for one row or, batched, for many)."""


def _settled(row: Any, force: bool) -> bool:
    """A row processing leaves alone: rejected, or done and not forced."""
    return bool(row.status == InboxStatus.REJECTED or (row.status in DONE and not force))


def _process_enriched(factory: sessionmaker[Session], company: Company, inbox_id: int, now: datetime,
                      events: list[CrmEvent], notes: list[str], force: bool) -> Processed | None:
    with factory.begin() as session:
        row = session.execute(select(*_ROW).where(InboxEvent.id == inbox_id).with_for_update()).one_or_none()
        if row is None:
            return None
        return _settle(session, company, row, now, events, notes, force, None, None)


def _settle(session: Session, company: Company, row: Any, now: datetime, events: list[CrmEvent],
            notes: list[str], force: bool, parked: set[str] | None, later: list[dict[str, Any]] | None) -> Processed:
    """Apply a locked row's events and record its outcome (status re-checked under the lock).

    ``parked``: the sources with parked rows, when the caller looked them up for a whole batch
    (None: look at each opening). ``later``: where to leave the outcome for the caller to write
    with the batch's others (None: written now). A parked row is written at once either way, so
    a case a later row of the batch opens finds it."""
    if _settled(row, force):
        return _snapshot(row)
    status, result, until = _apply(session, company, row, now, events, parked)
    if notes:
        result["notes"] = notes
    outcome = {"row_id": row.id, "new_status": status, "new_result": result, "now": now, "until": until}
    if status == InboxStatus.PARKED:
        if parked is not None:
            parked.add(row.source)
        _SETTLE.execute(session, outcome)
    elif later is not None:
        later.append(outcome)
    else:
        _SETTLE.execute(session, outcome)
    return Processed(id=row.id, status=status, attempts=row.attempts + 1, result=result, last_error=None)


def _failed(factory: sessionmaker[Session], inbox_id: int, exc: Exception, force: bool) -> Processed | None:
    if is_unavailable(exc):
        raise exc  # the storage's fault, not the row's: it stays received and is tried again
    if isinstance(exc, CrmApiError):  # the CRM's API is rate-limited or down: retried later
        log.warning("inbox event %s: reading the record back failed: %s", inbox_id, exc)
    elif not isinstance(exc, SlaflowError):
        log.exception("inbox event %s: processing failed unexpectedly", inbox_id, exc_info=exc)
    return _record_failure(factory, inbox_id, exc, force)


def replay(
    factory: sessionmaker[Session], company: Company, ids: Iterable[int], now: Callable[[], datetime]
) -> list[Processed]:
    """Re-process rows by id (``slaflow inbox replay``), each in its own transaction."""
    return [p for inbox_id in ids if (p := process_inbox_event(factory, company, inbox_id, now(), force=True))]


def replay_status(
    factory: sessionmaker[Session], company: Company, status: str, now: Callable[[], datetime], batch: int = 200
) -> list[Processed]:
    """Re-process every row with ``status`` (failed or unmatched), oldest first, each once."""
    done: list[Processed] = []
    after = 0
    while True:
        with factory() as session:
            ids = pending_inbox_ids(session, batch, statuses=(status,), after_id=after)
        if not ids:
            return done
        done.extend(replay(factory, company, ids, now))
        after = ids[-1]


def _lock(session: Session, inbox_id: int) -> InboxEvent | None:
    return session.get(InboxEvent, inbox_id, with_for_update=True, populate_existing=True)


def _config(company: Company, source: str) -> SourceConfig:
    config = getattr(crm_config(company).sources, source, None) if source in ADAPTERS else None
    if not isinstance(config, SourceConfig):
        raise ProcessingError(f"source {source!r} is not configured under crm.sources")
    return config


def _events(company: Company, row: Any, parsed: list[CrmEvent] | None = None) -> list[CrmEvent]:
    """The stored request's events, as the adapter reads them (or read them on receipt: ``parsed``),
    tagged with the row's account."""
    if parsed is None:
        body = row.raw_body if row.raw_body is not None else row.body.encode("utf-8")
        parsed = ADAPTERS[row.source].parse(body, _config(company, row.source))
    return [e.model_copy(update={"account": row.account or "default"}) for e in parsed]


def _apply(session: Session, company: Company, row: Any, now: datetime, events: list[CrmEvent],
           parked: set[str] | None) -> tuple[str, dict[str, Any], datetime | None]:
    """The row's status, result and parking deadline after applying its events."""
    config = _config(company, row.source)
    actor = integration_actor(row.source, config)
    planned = [action for event in events for action in plan(crm_config(company).rules, event)]
    outcomes = [_perform(session, company, action, actor, now, config, row.id, parked) for action in planned]
    outcomes += lead_actions(session, company, events, actor, now)  # lead records (leads)
    result = {"events": [e.model_dump(mode="json", exclude={"fields"}) for e in events], "actions": outcomes}
    until = parked_until(result)
    if until is not None:
        return InboxStatus.PARKED, result, until
    return (InboxStatus.PROCESSED if outcomes else InboxStatus.UNMATCHED), result, None


def _perform(session: Session, company: Company, action: PlannedAction, actor: Actor, now: datetime,
             config: SourceConfig, inbox_id: int, parked: set[str] | None) -> dict[str, Any]:
    source = action.event.source
    outcome: dict[str, Any] = {
        "rule": action.rule.label, "action": action.action, "case_type": action.case_type,
        "entity": action.event.entity_key,
    }

    def fire(case_id: int, trigger: str, payload: dict[str, Any]) -> dict[str, Any]:
        return _fire(session, company, case_id, trigger, payload, actor, now, f"crm:{source}")

    if action.action == OPEN:
        try:
            case = cases.open_case(
                session, company, case_type=action.case_type, data=action.data, actor=actor, now=now,
                source=f"crm:{source}", external_source=source, external_key=action.external_key,
            )
        except DuplicateCase:
            return {**outcome, "outcome": "exists", "case_id": _linked_case(session, action, open_only=False)}
        if (parked is None or source in parked) and is_planning(session):
            raise PlanAborted("parked events are applied to a new case under the lock")
        late = (apply_parked(session, source, action.external_key, case.id, fire, exclude=inbox_id)
                if parked is None or source in parked else [])
        state = records.load(session, case.id).state if late else case.state
        return {**outcome, "outcome": "opened", "case_id": case.id, "state": state,
                **({"applied_parked": late} if late else {})}
    assert action.trigger is not None
    if is_planning(session):  # what it reads of the case may change before the plan is written
        raise PlanAborted("a trigger on an existing case is fired under the lock")
    case_id = _linked_case(session, action, open_only=True)
    if case_id is None:
        if config.park_seconds and _linked_case(session, action, open_only=False) is None:
            return park(outcome, external_key=action.external_key, trigger=action.trigger, data=action.data,
                        now=now, park_seconds=config.park_seconds)
        return {**outcome, "outcome": "skipped",
                "reason": f"no open {action.case_type} case is linked to {source} {action.event.entity_key}"}
    return {**outcome, **fire(case_id, action.trigger, action.data)}


def _fire(session: Session, company: Company, case_id: int, trigger: str, payload: dict[str, Any], actor: Actor,
          now: datetime, source: str) -> dict[str, Any]:
    try:
        case = cases.fire(session, company, case_id=case_id, trigger=trigger, actor=actor, now=now,
                          payload=payload, source=source)
    except IllegalTransition:
        # A CRM repeats itself (a Bitrix24 update while the deal stays in a stage): a trigger this
        # source already fired on the case is not an error.
        if _already_fired(session, case_id, trigger, source):
            return {"trigger": trigger, "outcome": "already_applied", "case_id": case_id}
        raise
    return {"trigger": trigger, "outcome": "fired", "case_id": case.id, "state": case.state}


def _linked_case(session: Session, action: PlannedAction, *, open_only: bool) -> int | None:
    query = select(Case.id).where(
        Case.external_source == action.event.source, Case.external_key == action.external_key
    )
    if open_only:
        query = query.where(Case.closed_at.is_(None))
    return session.scalar(query)


def _already_fired(session: Session, case_id: int, trigger: str, source: str) -> bool:
    query = select(CaseEvent.id).where(
        CaseEvent.case_id == case_id, CaseEvent.trigger == trigger, CaseEvent.source == source
    )
    return session.scalar(query.limit(1)) is not None


def _record_failure(factory: sessionmaker[Session], inbox_id: int, exc: Exception, force: bool) -> Processed | None:
    with factory.begin() as session:
        row = _lock(session, inbox_id)
        if row is None:
            return None
        if row.status in DONE and not force:
            return _snapshot(row)  # processed meanwhile by another worker
        row.status, row.last_error = InboxStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        row.attempts += 1
        return _snapshot(row)


def _snapshot(row: Any) -> Processed:
    return Processed(id=row.id, status=row.status, attempts=row.attempts, result=row.result,
                     last_error=row.last_error)
