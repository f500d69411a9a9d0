"""The ``crm:`` section of the company config (sources, mapping rules and API tokens).

Sources and their accounts and secrets are in `crm.sources`. Rules say which CRM events open a
case or fire a trigger on the case linked to the CRM entity, and what is written back onto the
CRM record when that case moves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.secret_ref import ENV_NAME, SecretError, SecretRef
from crm.sources import (
    AmoCrmSource,
    Bitrix24Source,
    CrmSources,
    GenericSource,
    HubSpotSource,
    PipedriveSource,
    SalesforceSource,
    Secrets,
    SourceConfig,
    SourceName,
    ZohoSource,
    resolve_source_secrets,
)
from org.config import ApiToken

if TYPE_CHECKING:
    from org.chart import Company

__all__ = [
    "ENV_NAME", "AmoCrmSource", "ApiToken", "Bitrix24Source", "CaseEventKind", "CrmConfig", "CrmSources",
    "GenericSource", "HubSpotSource", "PipedriveSource", "RuleConfig", "SalesforceSource", "SecretError", "SecretRef",
    "SourceConfig", "SourceName", "WriteBack", "ZohoSource", "check_against",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseEventKind(StrEnum):
    """The case events that can be written back onto the CRM record."""

    OPENED = "opened"
    STEP_CHANGED = "step_changed"
    ASSIGNED = "assigned"
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    RESOLVED = "resolved"


class WriteBack(_Strict):
    """What the case writes onto the CRM record it is linked to, through the outbox."""

    on: list[CaseEventKind] = list(CaseEventKind)
    comment: bool = True
    """A timeline comment / note per event (Bitrix24 timeline, amoCRM note, HubSpot note, Pipedrive note)."""
    fields: dict[str, str] = {}
    """CRM field -> Jinja2 template, e.g. ``UF_CRM_SLA_STATUS: "{{ status }}"``; variables: status,
    state, state_label, deadline, owner_department, case_id, case_type, kind."""
    locale: str = Field("en", pattern=r"^(en|ru|pl)$")


OneOrMany = str | list[str]


class RuleConfig(_Strict):
    """(source, entity, stage or event, field conditions) -> open a case or fire a trigger."""

    name: str | None = None
    source: SourceName
    entity: str | None = None
    """Entity kind as the adapter names it: deal, lead, contact, company, ticket, ..."""
    event: OneOrMany | None = None
    """Normalised event type(s): created, updated, deleted, stage_changed."""
    stage: OneOrMany | None = None
    """The new stage/status id(s) the event must carry."""
    from_stage: OneOrMany | None = None
    pipeline: str | None = None
    when: dict[str, Any] = {}
    """Field conditions: each CRM field must equal the value (or one of a list of values)."""
    open: str | None = None
    """Case type to open; the case is linked to the CRM entity, so a redelivery cannot open it twice."""
    fire: str | None = None
    """Trigger to fire on the open case of ``case_type`` linked to the CRM entity."""
    case_type: str | None = None
    data: dict[str, str] = {}
    """Case field (or trigger payload field) -> CRM field; ``$entity_id``, ``$stage``, ``$old_stage``,
    ``$pipeline``, ``$event_id``, ``$entity`` name event attributes."""
    values: dict[str, Any] = {}
    """Constant case fields (or payload fields)."""
    write_back: WriteBack | None = None
    """For an open rule: write the case's progress back onto the CRM record."""

    @model_validator(mode="after")
    def _one_action(self) -> RuleConfig:
        if (self.open is None) == (self.fire is None):
            raise ValueError("a rule needs exactly one of open (a case type) or fire (a trigger)")
        if self.fire is not None and self.case_type is None:
            raise ValueError("a fire rule needs case_type: the type of the linked case the trigger belongs to")
        if self.open is not None and self.case_type not in (None, self.open):
            raise ValueError("an open rule names its case type in open; drop case_type")
        if self.write_back is not None and self.open is None:
            raise ValueError("write_back belongs on the rule that opens the case")
        return self

    @property
    def target_type(self) -> str:
        return self.open or self.case_type or ""

    @property
    def label(self) -> str:
        return self.name or f"{self.source}:{'open ' + self.open if self.open else 'fire ' + str(self.fire)}"


class CrmConfig(_Strict):
    sources: CrmSources = CrmSources()
    rules: list[RuleConfig] = []
    api_tokens: list[ApiToken] = []

    @model_validator(mode="after")
    def _unique_tokens(self) -> CrmConfig:
        names = [t.name for t in self.api_tokens]
        hashes = [t.sha256 for t in self.api_tokens]
        if len(set(names)) != len(names) or len(set(hashes)) != len(hashes):
            raise ValueError("api_tokens: names and sha256 hashes must be unique")
        return self

    def resolve_secrets(self, environ: Mapping[str, str] | None = None) -> dict[str, Secrets]:
        """Read the secrets of every enabled source, at start-up; every problem is reported at once."""
        resolved, problems = self.resolve_available(environ)
        if problems:
            raise SecretError("; ".join(problems.values()))
        return resolved

    def resolve_available(
        self, environ: Mapping[str, str] | None = None
    ) -> tuple[dict[str, Secrets], dict[str, str]]:
        """Per enabled source, its accounts' secrets; a source with a missing secret is left out and
        its problem returned instead (``serve`` then disables that source only)."""
        environ = os.environ if environ is None else environ
        resolved: dict[str, Secrets] = {}
        problems: dict[str, str] = {}
        for source, cfg in self.sources.enabled().items():
            try:
                resolved[source] = resolve_source_secrets(source, cfg, environ)
            except SecretError as exc:
                problems[source] = str(exc)
        return resolved, problems

    def write_back_rules(self) -> dict[tuple[str, str], RuleConfig]:
        """(source, case type) -> the first open rule with ``write_back`` (what a linked case writes)."""
        found: dict[tuple[str, str], RuleConfig] = {}
        for rule in self.rules:
            if rule.write_back is not None and rule.open is not None:
                found.setdefault((rule.source, rule.open), rule)
        return found


API_SOURCES = ("bitrix24", "hubspot", "amocrm", "pipedrive", "zoho")
"""Sources whose REST API slaflow calls (enrichment, write-back): crm/api/vendors.py."""


def _api_problems(enabled: dict[str, SourceConfig]) -> list[str]:
    return [
        f"crm.sources.{source}: api is not supported for {source} (supported: {', '.join(API_SOURCES)}); "
        f"account {name}"
        for source, cfg in enabled.items()
        for name, account in cfg.all_accounts().items()
        if account.api is not None and source not in API_SOURCES
    ]


def _write_back_problems(rules: list[RuleConfig], enabled: dict[str, SourceConfig]) -> list[str]:
    return [problem for index, rule in enumerate(rules) if rule.write_back is not None and rule.source in enabled
            for problem in _rule_write_back_problems(f"crm.rules[{index}]", rule, enabled[rule.source])]


def _rule_write_back_problems(where: str, rule: RuleConfig, source: SourceConfig) -> list[str]:
    from crm.writeback import template_problem

    problems: list[str] = []
    if rule.source not in API_SOURCES:
        problems.append(f"{where}.write_back: writing back to {rule.source} is not supported "
                        f"(supported: {', '.join(API_SOURCES)})")
    elif all(account.api is None for account in source.all_accounts().values()):
        problems.append(f"{where}.write_back: crm.sources.{rule.source} has no api: (url and token) to write with")
    assert rule.write_back is not None
    for field, template in rule.write_back.fields.items():
        problem = template_problem(template)
        if problem is not None:
            problems.append(f"{where}.write_back.fields.{field}: not a valid template: {problem}")
    return problems


def check_against(crm: CrmConfig, company: Company) -> list[str]:
    """Cross-references the YAML schema cannot check: case types, triggers, departments, people."""
    problems: list[str] = []
    departments = company.config.departments

    def membership_problems(where: str, memberships: list[str]) -> None:
        for pair in memberships:
            dept, role = pair.split("/")
            if dept not in departments:
                problems.append(f"{where}: {dept!r} is not a department")
            elif role != "head" and not any(role in m.roles for m in departments[dept].members):
                problems.append(f"{where}: nobody in {dept!r} has the role {role!r}")

    for source, cfg in crm.sources.enabled().items():
        membership_problems(f"crm.sources.{source}.memberships", cfg.memberships)
    enabled = crm.sources.enabled()
    for index, rule in enumerate(crm.rules):
        where = f"crm.rules[{index}]"
        if rule.source not in enabled:
            problems.append(f"{where}.source: {rule.source!r} is not an enabled source under crm.sources")
        case_type = company.case_types.get(rule.target_type)
        if case_type is None:
            problems.append(f"{where}: unknown case type {rule.target_type!r}")
        elif rule.fire is not None and all(t.trigger != rule.fire for t in case_type.transitions):
            triggers = sorted({t.trigger for t in case_type.transitions})
            problems.append(f"{where}.fire: {rule.target_type!r} has no trigger {rule.fire!r}; triggers: {triggers}")
    problems += _write_back_problems(crm.rules, enabled) + _api_problems(enabled)
    for index, token in enumerate(crm.api_tokens):
        if token.person is not None and token.person not in company.config.people:
            problems.append(f"crm.api_tokens[{index}].person: {token.person!r} is not in people")
        membership_problems(f"crm.api_tokens[{index}].memberships", token.memberships)
    return problems


def crm_config(company: Company) -> CrmConfig:
    """The ``crm:`` section (no sources, rules or tokens when the config has none)."""
    return company.part("crm", CrmConfig) or CrmConfig()
