"""The sweeper's unit of work: claim due timers, then fire each one in its own transaction.

A claim sets a lease (owner, until); firing re-checks the guard (still pending, still ours,
case still in the timer's state, deadline unchanged) and marks the timer fired in the same
transaction as its effects. A worker that dies loses only its lease: the timer becomes
claimable again when the lease runs out, and the status check stops a second firing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, ensure_utc
from core.vocabulary import TimerKind, TimerStatus
from engine import records
from engine.timer_group import Group, write_finishes
from engine.timer_kinds import HANDLERS, HOOKS_AFTER_COMMIT, RUN_ID, Due, HookHandler, finish
from org.chart import Company
from storage import lease as lease_rows
from storage.models import SlaClock, Timer, table
from storage.prepared import Prepared

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 10

_timers = table(Timer)
_LOAD_TIMER = Prepared(select(_timers).where(_timers.c.id == bindparam("b_timer_id")).with_for_update())
_LOAD_CLOCK = Prepared(select(table(SlaClock)).where(table(SlaClock).c.id == bindparam("b_clock_id")))


@dataclass
class SweepResult:
    claimed: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    failed: int = 0
    fired_ids: list[int] = field(default_factory=list)
    """The timers this sweep fired (the entry point reports them: events, artifacts)."""

    @property
    def fired_total(self) -> int:
        return sum(self.fired.values())


def claim_due(
    session: Session, *, now: datetime, owner: str, limit: int = 500, lease: timedelta = DEFAULT_LEASE
) -> list[int]:
    """Lease up to ``limit`` due timers to ``owner``. On PostgreSQL concurrent sweepers skip each
    other's rows (``FOR UPDATE SKIP LOCKED``); on SQLite the write lock makes the claim atomic."""
    now = ensure_utc(now)
    due = [_timers.c.status == TimerStatus.PENDING, _timers.c.due_at <= now]
    return lease_rows.claim(session, _timers, due=due, order_by=[_timers.c.due_at, _timers.c.id], now=now,
                            owner=owner, lease=lease, limit=limit)


def fire_timer(
    session: Session, company: Company, *, timer_id: int, owner: str, now: datetime, hooks: HookHandler | None = None,
    group: Group | None = None,
) -> TimerKind | None:
    """Fire one claimed timer; return its kind if it fired, None if the guard said no. The guard
    common to every kind is here; what each kind does is its handler (`engine.timer_kinds`).
    ``group``: the sweep group's rows, read together (`engine.timer_group`)."""
    now = ensure_utc(now)
    read = group.take(timer_id) if group is not None else None
    if read is None:
        write_finishes(session)  # what this timer reads must include the group's earlier fires
        timer = _LOAD_TIMER.first(session, {"b_timer_id": timer_id})
    else:
        timer = read[0]
    if timer is None or timer.status != TimerStatus.PENDING or timer.lease_owner != owner:
        return None
    # The case is locked: no trigger moves it while its timer fires.
    case = records.load(session, timer.case_id) if read is None else read[1]
    if timer.state != "*" and case.state != timer.state:
        return finish(session, timer_id, TimerStatus.CANCELLED, now)
    if read is not None:
        clock = read[2]
    else:
        clock = _LOAD_CLOCK.first(session, {"b_clock_id": timer.clock_id}) if timer.clock_id else None
    if clock is not None and (clock.stopped_at is not None or clock.paused_since is not None):
        return finish(session, timer_id, TimerStatus.CANCELLED, now)
    if timer.kind not in HANDLERS:
        raise ValueError(f"timer {timer_id} has unknown kind {timer.kind!r}")
    ahead = group.breaches if group is not None and read is not None else None
    return HANDLERS[TimerKind(timer.kind)](Due(session, company, timer, case, clock, now, hooks, ahead))


def sweep(
    factory: sessionmaker[Session],
    company: Company,
    *,
    owner: str,
    now: datetime | None = None,
    clock: Clock | None = None,
    batch: int = 500,
    max_batches: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    group: int = 50,
    hooks: HookHandler | None = None,
    run_id: str | None = None,
) -> SweepResult:
    """Claim and fire due timers until none are left (or ``max_batches`` is reached).

    Give ``now`` (tests, the demo) or a ``clock``, read again for every batch (to see timers that
    fell due meanwhile) and for every timer as it fires: ``fired_at``, the breach's
    ``detected_at`` and the messages' ``created_at`` are the moment of that fire, not the start
    of the batch. Timers fire ``group`` to a
    transaction; if any of a group raises, the group is rolled back and its timers fire one by one,
    so one bad timer never blocks the others. ``run_id`` (the Prefect flow run) is kept on each
    timer it finishes."""
    if (now is None) == (clock is None):
        raise ValueError("sweep needs exactly one of now= or clock=")
    result = SweepResult()
    read_now = clock.now if clock is not None else _constant(ensure_utc(now))  # type: ignore[arg-type]
    for _ in range(max_batches):
        at = ensure_utc(read_now())
        with factory.begin() as session:
            _give_up(session, now=at)
            ids = claim_due(session, now=at, owner=owner, limit=batch, lease=lease)
        result.claimed += len(ids)
        for start in range(0, len(ids), group):
            chunk = ids[start : start + group]
            if not _fire_group(factory, company, chunk, owner=owner, now=read_now, result=result, hooks=hooks,
                               run_id=run_id):
                for timer_id in chunk:
                    _fire_alone(factory, company, timer_id, owner=owner, now=read_now, result=result, hooks=hooks,
                                run_id=run_id)
        if len(ids) < batch:
            break
    return result


def _constant(moment: datetime) -> Callable[[], datetime]:
    def read() -> datetime:
        return moment

    return read


def _fire_group(
    factory: sessionmaker[Session],
    company: Company,
    ids: list[int],
    *,
    owner: str,
    now: Callable[[], datetime],
    result: SweepResult,
    hooks: HookHandler | None,
    run_id: str | None = None,
) -> bool:
    """Fire timers in one transaction; False (nothing kept) if any of them raised."""
    tally: Counter[str] = Counter()
    fired: list[int] = []
    deferred: list[tuple[int, str, int, int]] = []
    try:
        with factory.begin() as session:
            session.info[RUN_ID] = run_id
            group = Group.read(session, ids)
            for timer_id in ids:  # (on PostgreSQL their writes wait for the next read or the commit)
                kind = fire_timer(session, company, timer_id=timer_id, owner=owner, now=now(), hooks=hooks,
                                  group=group)
                if kind is not None:
                    tally[kind.value] += 1
                    fired.append(timer_id)
            write_finishes(session, done=True)
            deferred = session.info.pop(HOOKS_AFTER_COMMIT, [])
    except Exception:  # retried one by one, where the failing timer is recorded
        log.info("a group of %d timers failed; firing them one by one", len(ids), exc_info=True)
        return False
    result.fired.update(tally)
    result.fired_ids += fired
    result.skipped += len(ids) - len(fired) - len(deferred)
    for hook in deferred:
        _start_hook(factory, hook, owner=owner, now=now(), result=result, hooks=hooks, run_id=run_id)
    return True


def _start_hook(
    factory: sessionmaker[Session],
    hook: tuple[int, str, int, int],
    *,
    owner: str,
    now: datetime,
    result: SweepResult,
    hooks: HookHandler | None,
    run_id: str | None,
) -> None:
    """Start a hook's deployment (its guard passed and committed), then mark the timer fired if
    it is still ours; a failure is kept on the timer like any other."""
    timer_id, deployment, case_id, event_seq = hook
    assert hooks is not None
    try:
        hooks(deployment, case_id, event_seq)
        with factory.begin() as session:
            session.info[RUN_ID] = run_id
            still_ours = session.execute(
                select(_timers.c.id).where(
                    _timers.c.id == timer_id, _timers.c.status == TimerStatus.PENDING, _timers.c.lease_owner == owner
                )
            ).first()
            if still_ours is None:
                result.skipped += 1
                return
            finish(session, timer_id, TimerStatus.FIRED, now)
    except Exception as exc:  # one bad hook must not stop the others
        log.exception("hook timer %s failed", timer_id)
        result.failed += 1
        _record_failure(factory, timer_id, owner, exc)
        return
    result.fired[TimerKind.HOOK.value] += 1
    result.fired_ids.append(timer_id)


def _fire_alone(
    factory: sessionmaker[Session],
    company: Company,
    timer_id: int,
    *,
    owner: str,
    now: Callable[[], datetime],
    result: SweepResult,
    hooks: HookHandler | None,
    run_id: str | None = None,
) -> None:
    deferred: list[tuple[int, str, int, int]] = []
    try:
        with factory.begin() as session:
            session.info[RUN_ID] = run_id
            kind = fire_timer(session, company, timer_id=timer_id, owner=owner, now=now(), hooks=hooks)
            deferred = session.info.pop(HOOKS_AFTER_COMMIT, [])
    except Exception as exc:  # one bad timer must not stop the others
        log.exception("timer %s failed", timer_id)
        result.failed += 1
        _record_failure(factory, timer_id, owner, exc)
        return
    if deferred:
        _start_hook(factory, deferred[0], owner=owner, now=now(), result=result, hooks=hooks, run_id=run_id)
    elif kind is None:
        result.skipped += 1
    else:
        result.fired[kind.value] += 1
        result.fired_ids.append(timer_id)


def _give_up(session: Session, *, now: datetime) -> None:
    """A timer claimed MAX_ATTEMPTS times without firing (its worker died on it each time) is
    marked failed, visibly, instead of being claimed forever."""
    session.connection().execute(
        update(_timers)
        .where(_timers.c.status == TimerStatus.PENDING, _timers.c.attempts >= MAX_ATTEMPTS, _timers.c.due_at <= now)
        .where(or_(_timers.c.lease_until.is_(None), _timers.c.lease_until < now))
        .values(status=TimerStatus.FAILED, last_error=f"gave up after {MAX_ATTEMPTS} claims without firing")
    )


def _record_failure(factory: sessionmaker[Session], timer_id: int, owner: str, exc: Exception) -> None:
    """Keep the error on the timer; give up (status ``failed``) after MAX_ATTEMPTS claims."""
    with factory.begin() as session:
        attempts = session.scalar(select(_timers.c.attempts).where(_timers.c.id == timer_id)) or 0
        session.execute(
            update(_timers)
            .where(_timers.c.id == timer_id, _timers.c.lease_owner == owner)
            .values(
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                lease_until=None,
                lease_owner=None,
                status=TimerStatus.FAILED if attempts >= MAX_ATTEMPTS else TimerStatus.PENDING,
            )
        )
