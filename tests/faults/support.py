"""What the fault tests share: a workload that opens cases through the REST API and through
signed CRM webhooks and remembers what was acknowledged, and the check of the database after."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select

from api.testing import token_header
from core.clock import Clock
from crm import samples
from storage.db import make_engine
from storage.models import Case, InboxEvent

FIGURES: list[Tally] = []
SECRET = samples.SAMPLE_ENV["SLAFLOW_GENERIC_SECRET"]


class Client(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...
    def get(self, url: str, **kwargs: Any) -> Any: ...


@dataclass
class Tally:
    fault: str
    database: str
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    without_retry_after: int = 0
    """503 answers that did not say when to retry."""
    acked_cases: set[str] = field(default_factory=set)
    acked_hooks: set[str] = field(default_factory=set)
    lost: int = -1
    doubled: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def server_errors(self) -> int:
        """5xx other than an honest 503."""
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)

    def line(self) -> str:
        extra = "".join(f", {key} {value}" for key, value in self.extra.items())
        return (f"{self.fault} [{self.database}]: {self.sent} requests sent, {self.five_xx} 5xx "
                f"({self.server_errors} other than 503), {len(self.acked_cases) + len(self.acked_hooks)} acknowledged, "
                f"{self.lost} lost, {self.doubled} done twice{extra}")


@dataclass
class ChannelTally(Tally):
    """Figures of a channel fault: requests the channel got, messages lost or sent twice."""

    def line(self) -> str:
        extra = "".join(f", {key} {value}" for key, value in self.extra.items())
        return (f"{self.fault} [{self.database}]: {self.sent} requests to the channel, {self.lost} messages lost, "
                f"{self.doubled} sent twice{extra}")


class Workload:
    """Opens ``reservation`` cases (REST, with an external key) and ``rush_delivery`` cases (generic
    CRM webhook), records each answer, and keeps what was refused for a later retry, as a client
    that honours 503 would."""

    def __init__(self, client: Client, clock: Clock, tally: Tally) -> None:
        self.client, self.clock, self.tally = client, clock, tally
        self.pending_cases: list[str] = []
        self.pending_hooks: list[str] = []

    def _count(self, answer: Any) -> int:
        status = int(answer.status_code)
        self.tally.sent += 1
        self.tally.statuses[status] += 1
        if status == 503 and "retry-after" not in {k.lower() for k in answer.headers}:
            self.tally.without_retry_after += 1
        return status

    def case(self, key: str) -> int:
        body = {"type": "reservation", "external_key": key,
                "data": {"customer": "ООО Ромашка", "deal": key, "items": "40 паллет"}}
        status = self._count(self.client.post("/api/cases", json=body, headers=token_header("ivanov")))
        if status == 201 or status == 409:  # 409: an earlier attempt whose answer was lost did open it
            self.tally.acked_cases.add(key)
        else:
            self.pending_cases.append(key)
        return status

    def hook(self, key: str) -> int:
        event = {"id": key, "entity": "order", "entity_id": key, "event": "stage_changed", "stage": "rush_requested",
                 "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "fault test"}}
        body, headers = samples.generic(event, secret=SECRET, timestamp=int(self.clock.now().timestamp()))
        status = self._count(self.client.post("/webhooks/generic", content=body, headers=headers))
        if status == 200:
            self.tally.acked_hooks.add(key)
        else:
            self.pending_hooks.append(key)
        return status

    def round(self, tag: str, n: int) -> list[int]:
        statuses = []
        for i in range(n):
            statuses.append(self.case(f"{tag}-c{i}"))
            statuses.append(self.hook(f"{tag}-w{i}"))
        return statuses

    def retry_pending(self, attempts: int = 20) -> None:
        for _ in range(attempts):
            cases, hooks = self.pending_cases, self.pending_hooks
            if not cases and not hooks:
                return
            self.pending_cases, self.pending_hooks = [], []
            for key in cases:
                self.case(key)
            for key in hooks:
                self.hook(key)
            if self.pending_cases or self.pending_hooks:
                time.sleep(0.2)
        raise AssertionError(f"still refused after {attempts} rounds: {self.pending_cases + self.pending_hooks}")

    def ready(self) -> int:
        return int(self.client.get("/health/ready").status_code)

    def wait_ready(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        status = self.ready()
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = self.ready()
        return status


def hook_case_key(key: str) -> str:
    """The external key of the case a workload webhook opens (entity kind, id, case type)."""
    return f"order:{key}:rush_delivery"


def verify(database_url: str, tally: Tally) -> None:
    """Count, in a fresh connection to the database, each acknowledged item's cases: none missing,
    none twice. Every acknowledged webhook is also stored and processed."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            per_key: dict[str, int] = {str(key): int(n) for key, n in connection.execute(
                select(Case.external_key, func.count()).where(Case.external_key.is_not(None))
                .group_by(Case.external_key))}
            hooks: dict[str, int] = {str(status): int(n) for status, n in connection.execute(
                select(InboxEvent.status, func.count()).where(InboxEvent.source == "generic")
                .group_by(InboxEvent.status))}
    finally:
        engine.dispose()
    acked = tally.acked_cases | {hook_case_key(key) for key in tally.acked_hooks}
    tally.lost = len([key for key in acked if per_key.get(key, 0) == 0])
    tally.doubled = len([count for count in per_key.values() if count > 1])
    tally.extra["webhooks stored"] = sum(hooks.values())
    FIGURES.append(tally)
    assert tally.lost == 0, f"acknowledged but missing: {sorted(k for k in acked if k not in per_key)}"
    assert tally.doubled == 0, {key: n for key, n in per_key.items() if n > 1}
    assert tally.server_errors == 0, tally.statuses
    assert tally.without_retry_after == 0
    assert set(hooks) <= {"processed"}, hooks
