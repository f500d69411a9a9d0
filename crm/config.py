"""The ``crm:`` section of the company config (sources, mapping rules and API tokens).

Secrets never live in the YAML: a secret is ``{env: NAME}`` (read from the environment at
start-up; if ``NAME`` is unset, ``NAME_FILE`` may name a file holding it) or ``{file: PATH}``.
Rules say which CRM events open a case or fire a trigger on the case linked to the CRM entity.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from slaflow.company import Company

SourceName = Literal["bitrix24", "amocrm", "hubspot", "pipedrive", "generic"]
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
MEMBERSHIP = r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretError(ValueError):
    """A configured secret cannot be read (the message names where we looked, never the value)."""


def _no_literal_secret(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError("secrets are never written in the config: give {env: NAME} or {file: PATH}")
    return value


class SecretRef(_Strict):
    """Where a secret is: an environment variable (or ``<NAME>_FILE``) or a file."""

    env: str | None = Field(None, pattern=ENV_NAME)
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env (a variable name) or file (a path)")
        return self

    def describe(self) -> str:
        return f"env {self.env} (or {self.env}_FILE)" if self.env else f"file {self.file}"

    def resolve(self, environ: Mapping[str, str]) -> str:
        path: str | Path | None = self.file
        if self.env is not None:
            value = environ.get(self.env)
            if value:
                return value
            path = environ.get(f"{self.env}_FILE")
            if not path:
                raise SecretError(f"environment variable {self.env} (or {self.env}_FILE) is not set")
        assert path is not None
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(f"cannot read the secret file {path}: {exc.strerror or exc}") from None
        if not value:
            raise SecretError(f"the secret file {path} is empty")
        return value


Secret = Annotated[SecretRef, BeforeValidator(_no_literal_secret)]


class SourceConfig(_Strict):
    enabled: bool = True
    memberships: list[Annotated[str, Field(pattern=MEMBERSHIP)]] = []
    """``department/role`` pairs of the integration actor ``crm:<source>`` that opens and fires."""

    def secret_refs(self) -> dict[str, SecretRef]:
        return {name: value for name, value in self if isinstance(value, SecretRef)}


class Bitrix24Source(SourceConfig):
    application_token: Secret
    """The outbound webhook's ``application_token`` (Bitrix24 sends it in ``auth[application_token]``)."""
    domain: str | None = None
    """If set, ``auth[domain]`` must equal it (e.g. ``sever.bitrix24.ru``)."""


class AmoCrmSource(SourceConfig):
    token: Secret
    """amoCRM does not sign webhooks: the URL carries ``?token=<secret>``."""
    subdomain: str | None = None
    """If set, ``account[subdomain]`` must equal it."""


class HubSpotSource(SourceConfig):
    app_secret: Secret
    public_url: str | None = None
    """The exact URL HubSpot calls (it is part of the signature); default: the URL we see."""
    legacy_signatures: list[Literal["v1", "v2"]] = []
    """Also accept ``X-HubSpot-Signature`` v1/v2 (no timestamp, so no replay protection)."""
    portal_id: int | None = None
    stage_properties: dict[str, str] = {"deal": "dealstage", "ticket": "hs_pipeline_stage"}
    """Per object type, the property whose change is a stage change."""


class PipedriveSource(SourceConfig):
    username: Secret
    password: Secret
    """HTTP Basic credentials set on the Pipedrive webhook (``http_auth_user``/``http_auth_password``)."""


class GenericSource(SourceConfig):
    secret: Secret
    tolerance_seconds: int = Field(300, ge=1, le=3600)


class CrmSources(_Strict):
    bitrix24: Bitrix24Source | None = None
    amocrm: AmoCrmSource | None = None
    hubspot: HubSpotSource | None = None
    pipedrive: PipedriveSource | None = None
    generic: GenericSource | None = None

    def enabled(self) -> dict[str, SourceConfig]:
        return {name: cfg for name, cfg in self if isinstance(cfg, SourceConfig) and cfg.enabled}


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

    @model_validator(mode="after")
    def _one_action(self) -> RuleConfig:
        if (self.open is None) == (self.fire is None):
            raise ValueError("a rule needs exactly one of open (a case type) or fire (a trigger)")
        if self.fire is not None and self.case_type is None:
            raise ValueError("a fire rule needs case_type: the type of the linked case the trigger belongs to")
        if self.open is not None and self.case_type not in (None, self.open):
            raise ValueError("an open rule names its case type in open; drop case_type")
        return self

    @property
    def target_type(self) -> str:
        return self.open or self.case_type or ""

    @property
    def label(self) -> str:
        return self.name or f"{self.source}:{'open ' + self.open if self.open else 'fire ' + str(self.fire)}"


class ApiToken(_Strict):
    """A bearer token of a person or an integration, stored as the SHA-256 hex of the token."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    person: str | None = None
    """Act as this person (permissions: their department memberships)."""
    memberships: list[Annotated[str, Field(pattern=MEMBERSHIP)]] = []
    """For an integration: ``department/role`` pairs it acts with."""

    @model_validator(mode="after")
    def _one_identity(self) -> ApiToken:
        if (self.person is None) == (not self.memberships):
            raise ValueError("an API token needs exactly one of person or memberships")
        return self


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

    def resolve_secrets(self, environ: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
        """Read the secrets of every enabled source, at start-up; every problem is reported at once."""
        environ = os.environ if environ is None else environ
        resolved: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        for source, cfg in self.sources.enabled().items():
            resolved[source] = {}
            for field, ref in cfg.secret_refs().items():
                try:
                    resolved[source][field] = ref.resolve(environ)
                except SecretError as exc:
                    problems.append(f"crm.sources.{source}.{field}: {exc}")
        if problems:
            raise SecretError("; ".join(problems))
        return resolved


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
    for index, token in enumerate(crm.api_tokens):
        if token.person is not None and token.person not in company.config.people:
            problems.append(f"crm.api_tokens[{index}].person: {token.person!r} is not in people")
        membership_problems(f"crm.api_tokens[{index}].memberships", token.memberships)
    return problems
