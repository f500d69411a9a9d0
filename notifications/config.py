"""The ``notifications:`` section of the company config (delivery policy)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
