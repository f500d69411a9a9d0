"""The ``notifications:`` section of the company config (delivery policy).

Policy lives in the company YAML (who hears about what, when, how often we retry); channel
secrets and addresses of servers live in the environment (`notifications.settings`). This
module must not import slaflow: ``runtime.company`` imports it.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from org.audience import SPEC_HELP, is_audience

if TYPE_CHECKING:
    from org.chart import Company

Kind = Literal[
    "case_opened", "assigned", "warning", "breach", "escalation", "resolved", "digest", "lead_report", "sla_report",
    "test", "lead_feedback", "mention", "step_changed", "hold_expiring",
]
KINDS: tuple[str, ...] = get_args(Kind)

DEFAULT_AUDIENCES: dict[str, list[str]] = {
    "case_opened": ["requester", "performer"],
    "assigned": ["assignee"],
    "warning": ["owner"],
    "breach": ["owner", "department_head"],
    "resolved": ["requester", "performer"],
}
"""Who hears about each engine event unless the config says otherwise. Escalations get their
audience from the escalation chain; digests and lead reports name their reader."""


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quiet_hours_for: list[Kind] = ["case_opened", "assigned", "warning", "resolved", "digest", "lead_report",
                                   "lead_feedback", "step_changed", "hold_expiring"]
    """Kinds that wait for the recipient's working hours; the others (breach, escalation, test)
    go out at once."""
    all_channels_for: list[Kind] = ["breach", "escalation", "test"]
    """Kinds sent on every channel the person lists; other kinds use the first channel that can
    reach them (``channels`` is a preference order)."""
    audiences: dict[Kind, list[str]] = {}
    """Override the default audience of a kind, e.g. ``breach: [owner, department_head, head_manager]``."""
    hold_notice_minutes: float | None = Field(None, gt=0)
    """Business minutes before a step releases itself (an automatic transition: a reservation's
    hold expiring) that the case's requester and watchers are told; unset: no such notice."""
    max_attempts: int = Field(8, ge=1, le=100)
    """Delivery attempts before a message is marked ``failed`` (permanent errors fail at once)."""
    backoff_seconds: float = Field(60.0, gt=0)
    """Wait after the first transient failure; doubled after each further one."""
    backoff_max_seconds: float = Field(6 * 3600.0, gt=0)
    lease_seconds: float = Field(300.0, gt=0)
    """How long a dispatcher owns a claimed message before another may take it over."""
    duty_digest_at: time | None = None
    """Local time (the recipient's zone) until which informational duty messages wait, so a
    day's openings and outcomes go out as one digest (notifications.folding); unset: they go out
    when due and only those due together are folded."""
    file_outbox_dir: Path | None = None
    """Folder of the ``file`` transport (one sub-folder per person), e.g. for the demo."""

    @field_validator("audiences")
    @classmethod
    def _known_specs(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind, specs in value.items():
            for spec in specs:
                if not is_audience(spec):
                    raise ValueError(f"audiences.{kind}: {spec!r} is not an audience; use {SPEC_HELP}")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> NotificationsConfig:
        if self.backoff_max_seconds < self.backoff_seconds:
            raise ValueError("backoff_max_seconds must be at least backoff_seconds")
        return self

    def audience(self, kind: str) -> list[str]:
        return list(self.audiences.get(kind, DEFAULT_AUDIENCES.get(kind, [])))  # type: ignore[call-overload]

    def urgent(self, kind: str) -> bool:
        """Urgent kinds ignore the recipient's working hours."""
        return kind not in self.quiet_hours_for

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (exponential, capped)."""
        return float(min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds))


def notifications_config(company: Company) -> NotificationsConfig:
    """The ``notifications:`` section (the defaults when the config has none)."""
    return company.part("notifications", NotificationsConfig) or NotificationsConfig()
