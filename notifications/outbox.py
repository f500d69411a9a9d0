"""The outbox: messages are rows first (written with their cause), delivered later.

Rows are written by `notifications.enqueue` inside the caller's transaction.
``dispatch_due`` claims due rows with a lease (the pattern of `engine.timers.claim_due`),
commits, sends outside any transaction, and records each attempt in a new one. Channels are
sent in parallel, one thread per transport, so a slow or failing channel delays only itself.
Delivery is at-least-once: a worker that dies after sending but before recording sends again
when its lease runs out (e-mails carry a stable Message-ID, webhooks an idempotency key).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.vocabulary import OutboxStatus
from notifications import ack_links, telegram_actions
from notifications.config import notifications_config
from notifications.folding import fold
from notifications.render import render
from notifications.settings import NotificationSettings, load_notification_settings
from notifications.transports import REGISTRY, Outgoing, Transport, TransportError
from storage import lease as lease_rows
from storage.faults import describe, is_unavailable
from storage.models import DeliveryAttempt, OutboxMessage, table

if TYPE_CHECKING:
    from org.chart import Company

log = logging.getLogger(__name__)

BREAKER_THRESHOLD = 3
"""Consecutive transient failures of one channel in one run after which its remaining messages
are released untried (a dead SMTP server should cost three timeouts, not two hundred)."""


_outbox = table(OutboxMessage)

DirectDelivery = Callable[["Company", dict[str, Any], datetime, sessionmaker[Session]], None]
"""Delivers one row of a direct channel: (company, the row's context, now, sessions); raises
`TransportError` like a transport."""
_DIRECT: dict[str, DirectDelivery] = {}


def deliver_direct(channel: str, delivery: DirectDelivery) -> None:
    """Rows of ``channel`` are delivered by their feature (``crm`` write-back), not by a person's
    transport, and never redirected. Registered by ``runtime.wiring``; idempotent."""
    _DIRECT[channel] = delivery


# --------------------------------------------------------------------------- delivering


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    """Claimed but not tried this run (their channel's breaker opened)."""


@dataclass(frozen=True)
class _Job:
    """A claimed row, detached from its session."""

    id: int
    dedupe_key: str
    kind: str
    level: int
    recipient: str
    channel: str
    locale: str
    context: dict[str, Any]
    attempts: int
    case_id: int | None = None
    created_at: datetime | None = None
    folded: tuple[int, ...] = ()
    """Further rows this job delivers (a duty digest, see notifications.folding)."""


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None
    duration_ms: float = 0.0


def claim_due(
    session: Session,
    *,
    now: datetime,
    owner: str,
    limit: int = 200,
    lease: timedelta = timedelta(seconds=300),
    only: Sequence[int] | None = None,
) -> list[int]:
    """Lease up to ``limit`` due messages to ``owner`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
    on SQLite the write lock taken by ``BEGIN IMMEDIATE`` makes the claim atomic)."""
    due = [_outbox.c.status == OutboxStatus.PENDING, _outbox.c.next_attempt_at <= now]
    if only is not None:
        due.append(_outbox.c.id.in_(list(only)))
    return lease_rows.claim(session, _outbox, due=due,
                            order_by=[_outbox.c.urgent.desc(), _outbox.c.next_attempt_at, _outbox.c.id],
                            now=now, owner=owner, lease=lease, limit=limit)


def dispatch_due(
    factory: sessionmaker[Session],
    company: Company,
    *,
    now: datetime,
    owner: str,
    settings: NotificationSettings | None = None,
    limit: int = 200,
    only: Sequence[int] | None = None,
    transports: Mapping[str, Transport] | None = None,
) -> DispatchResult:
    """Claim due messages, deliver them, record every attempt. Never raises for a message:
    each outcome is a `DeliveryAttempt` row and a status. ``transports`` replaces registry
    instances (tests, or a caller that keeps connections)."""
    settings = settings if settings is not None else load_notification_settings()
    config = notifications_config(company)
    with factory.begin() as session:
        ids = claim_due(session, now=now, owner=owner, limit=limit,
                        lease=timedelta(seconds=config.lease_seconds), only=only)
        jobs = [
            _Job(m.id, m.dedupe_key, m.kind, m.level, m.recipient, m.channel, m.locale, dict(m.context), m.attempts,
                 m.case_id, m.created_at)
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id))
        ]
    result = DispatchResult(claimed=len(jobs))
    jobs = fold(jobs)
    groups: dict[str, list[_Job]] = {}
    for job in jobs:
        redirect = settings.notify_redirect if job.channel not in _DIRECT else None
        groups.setdefault(redirect or job.channel, []).append(job)
    delivery = _Delivery(factory, company, settings, dict(transports or {}), owner, now)
    if len(groups) <= 1:
        outcomes = [delivery.run_group(kind, group) for kind, group in groups.items()]
    else:
        with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="outbox") as pool:
            outcomes = list(pool.map(lambda item: delivery.run_group(*item), groups.items()))
    for counts in outcomes:
        for name, value in counts.items():
            setattr(result, name, getattr(result, name) + value)
    return result


class _Delivery:
    """One dispatch run: renders, sends and records the jobs of one transport per thread."""

    def __init__(
        self, factory: sessionmaker[Session], company: Company, settings: NotificationSettings,
        transports: dict[str, Transport], owner: str, now: datetime,
    ) -> None:
        self.factory, self.company, self.settings = factory, company, settings
        self.transports, self.owner, self.now = transports, owner, now

    def run_group(self, transport_kind: str, jobs: list[_Job]) -> dict[str, int]:
        counts = {"sent": 0, "retried": 0, "failed": 0, "released": 0}
        streak = 0
        for index, job in enumerate(jobs):
            if streak >= BREAKER_THRESHOLD:
                counts["released"] += self._release([i for j in jobs[index:] for i in (j.id, *j.folded)])
                break
            outcome = self._attempt(transport_kind, job)
            streak = streak + 1 if not outcome.ok and not outcome.permanent else 0
            try:
                status = self._record(job, outcome)
            except Exception as exc:  # the database is gone: the lease expires and the row is retried
                if not is_unavailable(exc):
                    log.exception("could not record the delivery of outbox message %s", job.id)
                else:
                    log.warning("could not record the delivery of outbox message %s: storage unavailable (%s)",
                                job.id, describe(exc))
                continue
            counts[status if status in (OutboxStatus.SENT, OutboxStatus.FAILED) else "retried"] += 1
        return counts

    def _transport(self, kind: str) -> Transport:
        if kind not in self.transports:
            self.transports[kind] = REGISTRY[kind](self.settings, notifications_config(self.company))
        return self.transports[kind]

    def _attempt(self, transport_kind: str, job: _Job) -> _Outcome:
        started = time.perf_counter()
        try:
            self._send(transport_kind, job)
        except TransportError as exc:
            return _Outcome(False, str(exc), exc.permanent, exc.retry_after, _ms(started))
        except TemplateError as exc:
            return _Outcome(False, f"template {job.locale}/{job.kind}: {type(exc).__name__}: {exc}", True,
                            duration_ms=_ms(started))
        except Exception as exc:  # a bug in a transport must not lose the message: retry, capped
            log.exception("outbox message %s: unexpected error", job.id)
            return _Outcome(False, f"{type(exc).__name__}: {exc}", False, duration_ms=_ms(started))
        return _Outcome(True, duration_ms=_ms(started))

    def _send(self, transport_kind: str, job: _Job) -> None:
        direct = _DIRECT.get(job.channel)
        if direct is not None:  # e.g. a write-back onto a CRM record, not a message to a person
            direct(self.company, job.context, self.now, self.factory)
            return
        person = self.company.config.people.get(job.recipient)
        if person is None:
            raise TransportError(f"{job.recipient!r} is no longer in the company config", permanent=True)
        channel = REGISTRY.get(job.channel)
        if channel is None or transport_kind not in REGISTRY:
            unknown = job.channel if channel is None else transport_kind
            raise TransportError(f"no transport for channel {unknown!r} (known: {', '.join(REGISTRY)})",
                                 permanent=True)
        address = channel.address(job.recipient, person)
        actions: tuple[tuple[str, str], ...] = ()
        forms: tuple[tuple[str, str], ...] = ()
        if job.channel == "telegram":  # the linked chat, buttons that act (#16: notifications.telegram_actions)
            address, actions, forms = telegram_actions.for_message(
                self.factory, self.company, kind=job.kind, case_id=job.case_id, person=job.recipient,
                locale=job.locale, public_url=self.settings.public_url, configured=address)
        if address is None:
            raise TransportError(f"{job.recipient} has no {job.channel} address in the company config", permanent=True)
        secret = self.settings.ack_link_secret
        ack_url = "" if job.created_at is None else ack_links.url(
            self.settings.public_url, secret.get_secret_value() if secret else None, kind=job.kind,
            case_id=job.case_id, person=job.recipient, created_at=job.created_at)
        rendered = render(job.kind, job.locale, channel.format, job.context, app_url=self.settings.public_url,
                          ack_url=ack_url)
        self._transport(transport_kind).send(
            Outgoing(
                message_id=job.id, dedupe_key=job.dedupe_key, kind=job.kind, channel=job.channel,
                recipient=job.recipient, address=address, subject=rendered.subject, text=rendered.text,
                payload=rendered.payload, now=self.now,
                links=ack_links.buttons(self.settings.public_url, ack_url, case_id=job.case_id, locale=job.locale)
                + forms,
                actions=actions,
            )
        )

    def _record(self, job: _Job, outcome: _Outcome) -> str:
        """Store the attempt on the job's row(s); move each on if this worker still holds its lease."""
        with self.factory.begin() as session:
            return [self._record_one(session, message_id, outcome) for message_id in (job.id, *job.folded)][0]

    def _record_one(self, session: Session, message_id: int, outcome: _Outcome) -> str:
        config = notifications_config(self.company)
        session.add(DeliveryAttempt(message_id=message_id, at=self.now, ok=outcome.ok, permanent=outcome.permanent,
                                    error=_clip(outcome.error), duration_ms=outcome.duration_ms))
        message = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
        if message is None or message.status != OutboxStatus.PENDING or message.lease_owner != self.owner:
            return message.status if message is not None else OutboxStatus.FAILED
        message.lease_owner, message.lease_until = None, None
        message.last_error = _clip(outcome.error)
        if outcome.ok:
            message.status, message.sent_at = OutboxStatus.SENT, self.now
        elif outcome.permanent or message.attempts >= config.max_attempts:
            message.status = OutboxStatus.FAILED
        else:
            wait = retry_wait(config.backoff(message.attempts), outcome.retry_after, config.backoff_max_seconds)
            message.next_attempt_at = self.now + timedelta(seconds=wait)
        return message.status

    def _release(self, ids: list[int]) -> int:
        """Give back claimed messages untried (the claim's attempt count is undone)."""
        wait = timedelta(seconds=notifications_config(self.company).backoff_seconds)
        with self.factory.begin() as session:
            return lease_rows.release(session, _outbox, owners=[self.owner],
                                      where=[_outbox.c.id.in_(ids), _outbox.c.status == OutboxStatus.PENDING],
                                      values={"next_attempt_at": self.now + wait})


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _clip(error: str | None) -> str | None:
    """At most 2,000 characters, and no NUL (PostgreSQL text cannot hold one: a channel answering
    garbage must not make its attempt unrecordable)."""
    return error[:2000].replace("\x00", "\\x00") if error is not None else None


def retry_wait(backoff: float, asked: float | None, cap: float) -> float:
    """Our backoff, or longer if the channel asked (``Retry-After``), never past ``cap``
    (``backoff_max_seconds``): a channel cannot park a message for ever."""
    asked = asked if asked is not None and math.isfinite(asked) else 0.0
    return min(max(backoff, asked, 0.0), cap)
