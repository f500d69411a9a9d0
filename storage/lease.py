"""Claiming rows with a lease: the one mechanism behind the timers (engine.timers) and the outbox
(notifications.outbox). A leased table has ``id``, ``lease_owner``, ``lease_until`` and
``attempts`` columns.

A claim leases up to ``limit`` due rows to a worker (``lease_owner``) until ``now + lease`` and
counts an attempt; a row whose lease ran out (its worker died) is due again. On PostgreSQL
concurrent workers skip each other's rows (``FOR UPDATE SKIP LOCKED``); on SQLite the write lock
taken by ``BEGIN IMMEDIATE`` (storage.db) makes the claim atomic. A release hands rows back
untried: the claim's attempt is undone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, or_, select, update
from sqlalchemy.orm import Session


def claim(
    session: Session,
    leased: Table,
    *,
    due: Sequence[ColumnElement[bool]],
    order_by: Sequence[ColumnElement[Any]],
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
) -> list[int]:
    """Lease up to ``limit`` rows matching ``due`` and not leased (or whose lease ran out), taken in
    ``order_by`` order, to ``owner``; return their ids in ascending order."""
    candidates = (
        select(leased.c.id)
        .where(*due)
        .where(or_(leased.c.lease_until.is_(None), leased.c.lease_until < now))
        .order_by(*order_by)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = session.scalars(
        update(leased)
        .where(leased.c.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease, attempts=leased.c.attempts + 1)
        .returning(leased.c.id)
    )
    return sorted(claimed)


def release(
    session: Session,
    leased: Table,
    *,
    owners: Sequence[str],
    where: Sequence[ColumnElement[bool]] = (),
    values: Mapping[str, Any] | None = None,
) -> int:
    """Hand back the rows ``owners`` hold (those matching ``where``) untried: no lease, the claim's
    attempt undone, and ``values`` set. Return how many were released."""
    released = session.scalars(
        update(leased)
        .where(leased.c.lease_owner.in_(list(owners)), *where)
        .values(lease_owner=None, lease_until=None, attempts=leased.c.attempts - 1, **(values or {}))
        .returning(leased.c.id)
    )
    return len(list(released))
