"""Duty messages folded into one digest per person, channel and local day (issue 19, point 2).

A recurring duty opens a case per occurrence, and each opening and outcome reaches every
subscriber: several messages a day to each sales manager. At dispatch time the claimed duty
messages of the same kind for the same person and channel whose cause happened on the same day
in that person's zone become ONE job of kind ``duty_digest`` listing them; the job carries the
folded rows' ids so their delivery is recorded on every one of them (sent together, retried
together, never sent twice). Only non-urgent kinds about duty cases fold: a breach or an
escalation always goes out on its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from state_machines.duty import NAME as DUTY_TYPE

if TYPE_CHECKING:
    from notifications.config import NotificationsConfig
    from notifications.outbox import _Job

DIGEST_KIND = "duty_digest"
FOLDABLE_KINDS: frozenset[str] = frozenset({"case_opened", "resolved", "step_changed"})
"""Informational kinds; warnings, breaches and escalations are never folded."""


def is_duty_message(kind: str, context: dict[str, Any]) -> bool:
    case = context.get("case")
    return kind in FOLDABLE_KINDS and isinstance(case, dict) and case.get("type") == DUTY_TYPE


def held_for_digest(config: NotificationsConfig, kind: str, context: dict[str, Any], tz: tzinfo,
                    now: datetime) -> datetime:
    """When a message produced at ``now`` may go: a duty message waits for the day's digest
    time (``duty_digest_at`` in the recipient's zone) if one is set and still ahead today."""
    if config.duty_digest_at is None or not is_duty_message(kind, context):
        return now
    digest = datetime.combine(now.astimezone(tz).date(), config.duty_digest_at, tzinfo=tz).astimezone(UTC)
    return max(now, digest)


def local_day(job: _Job) -> str | None:
    """The day (ISO date) the message's cause happened in the recipient's zone."""
    if job.created_at is None:
        return None
    tz = str(job.context.get("tz") or "UTC")
    return job.created_at.astimezone(ZoneInfo(tz)).date().isoformat()


def _fold_key(job: _Job) -> tuple[str, str, str, str] | None:
    if not is_duty_message(job.kind, job.context):
        return None
    day = local_day(job)
    return None if day is None else (job.recipient, job.channel, job.kind, day)


def fold(jobs: list[_Job]) -> list[_Job]:
    """The jobs to send: duty jobs sharing (person, channel, kind, local day) become one digest
    job (carried by the lowest id); everything else is returned unchanged, in order."""
    groups: dict[tuple[str, str, str, str], list[_Job]] = {}
    for job in jobs:
        key = _fold_key(job)
        if key is not None:
            groups.setdefault(key, []).append(job)
    out: list[_Job] = []
    done: set[tuple[str, str, str, str]] = set()
    for job in jobs:
        key = _fold_key(job)
        members = groups.get(key) if key is not None else None
        if key is None or members is None or len(members) < 2:
            out.append(job)
        elif key not in done:
            done.add(key)
            out.append(_digest(members, day=key[3]))
    return out


def _digest(members: list[_Job], *, day: str) -> _Job:
    first = min(members, key=lambda job: job.id)
    ordered = sorted(members, key=lambda job: (job.created_at or datetime.min.replace(tzinfo=UTC), job.id))
    ids = sorted(job.id for job in members)
    context: dict[str, Any] = {
        key: first.context[key] for key in ("company_name", "recipient", "locale", "tz") if key in first.context
    }
    context |= {"folded_kind": first.kind, "day": day, "items": [dict(job.context["case"]) for job in ordered]}
    # Stable for the same set of rows, so a retried digest keeps its Message-ID / idempotency key.
    digest_key = f"{DIGEST_KIND}|{hashlib.sha256(','.join(map(str, ids)).encode()).hexdigest()[:32]}"
    return dataclasses.replace(first, kind=DIGEST_KIND, dedupe_key=digest_key, context=context, case_id=None,
                               folded=tuple(i for i in ids if i != first.id))
