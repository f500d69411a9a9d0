"""The ``leads:`` section of the company config: which departments exchange leads, the SLA
targets in the sales department's business time, and the link to a lead in the CRM."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.vocabulary import LeadStatus
from state_machines.values import BusinessMinutes

if TYPE_CHECKING:
    from org.chart import Company

FACTS = ("channel", "product_group", "customer", "url", "owner", "reason")
"""What a CRM event may tell about a lead besides its status (``LeadFacts``)."""


class LeadRule(BaseModel):
    """A CRM event that gives a lead a status: matched like a case rule (source, entity kind,
    event, stage, pipeline, field conditions); ``data`` maps lead facts to CRM fields
    (``$stage`` etc. name event attributes), ``values`` sets constant facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    source: str
    entity: str | None = "lead"
    event: str | list[str] | None = None
    stage: str | list[str] | None = None
    pipeline: str | None = None
    when: dict[str, Any] = {}
    status: LeadStatus
    data: dict[str, str] = Field(default_factory=dict)
    values: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_facts(self) -> LeadRule:
        unknown = sorted((set(self.data) | set(self.values)) - set(FACTS))
        if unknown:
            raise ValueError(f"unknown lead facts {unknown}; use {', '.join(FACTS)}")
        return self

if TYPE_CHECKING:
    from org.chart import OrgConfig


class LeadsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sales: str = "sales"
    """Takes leads into work and qualifies them; its calendar counts both SLAs."""
    marketing: str = "marketing"
    """Brings the leads; its head and the sales head exchange the weekly feedback letter."""
    first_response: BusinessMinutes = 60
    """From a lead's arrival to "taken into work"."""
    qualification: BusinessMinutes = 480
    """From "taken into work" to qualified (or marked non-target)."""
    link: str | None = None
    """A lead's page in the CRM, with ``{key}`` for its external key (used when a lead has no URL)."""
    letter_cron: str = Field("0 16 * * 5", pattern=r"^\S+( \S+){4}$")
    """When the weekly lead letter goes out (cron, in the head office's time zone): Friday 16:00,
    the week so far while both heads are still at work to answer."""
    crm: list[LeadRule] = []
    """CRM events that give leads their statuses (crm.lead_hook applies them to each webhook)."""


def lead_problems(config: OrgConfig, leads: LeadsConfig | None) -> list[str]:
    """Cross-checks: both departments exist and the link pattern has only ``{key}``."""
    if leads is None:
        return []
    problems = [
        f"leads.{field}: {code!r} is not in departments"
        for field, code in (("sales", leads.sales), ("marketing", leads.marketing))
        if code not in config.departments
    ]
    try:
        from cronsim import CronSim, CronSimError

        CronSim(leads.letter_cron, datetime(2026, 1, 1))  # noqa: DTZ001 - only the syntax is checked
    except CronSimError as exc:
        problems.append(f"leads.letter_cron: {leads.letter_cron!r} is not a cron expression: {exc}")
    if leads.link is not None:
        try:
            leads.link.format(key="x")
        except (KeyError, IndexError, ValueError):
            problems.append("leads.link: use {key} for the lead's key, e.g. https://crm.example/leads/{key}")
    return problems


def leads_section(company: Company) -> LeadsConfig | None:
    """The ``leads:`` section; None: the company keeps no lead records."""
    return company.part("leads", LeadsConfig)
