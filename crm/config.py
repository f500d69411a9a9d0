"""The ``crm:`` section of the company config (sources and mapping rules)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CrmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
