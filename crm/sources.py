"""The ``crm.sources`` section: one block per CRM, each with one or several accounts (credentials).

A company often has several ways in from one CRM: a Bitrix24 outgoing webhook and an app, each
with its own token; two amoCRM subdomains; two HubSpot apps. The fields written directly under a
source are its ``default`` account; ``accounts:`` names more. A request is accepted when it
authenticates against any one account, and the account's name travels with the stored request,
so enrichment and write-back use the API access of that same account.

Secrets never live in the YAML: a secret is ``{env: NAME}`` (``NAME_FILE`` may name a file
holding it) or ``{file: PATH}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.secret_ref import Secret, SecretError, SecretRef
from org.config import MEMBERSHIP

ACCOUNT_NAME = r"^[a-z][a-z0-9_-]{0,31}$"
DEFAULT_ACCOUNT = "default"
AccountName = Annotated[str, Field(pattern=ACCOUNT_NAME)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiAccess(_Strict):
    """How slaflow calls the CRM's REST API (enrichment and write-back) for one account.

    - bitrix24: ``url`` is the incoming webhook's base, e.g. ``https://sever.bitrix24.ru/rest/1``,
      ``token`` its code (the call is ``<url>/<token>/crm.deal.get.json``);
    - hubspot: ``url`` ``https://api.hubapi.com``, ``token`` a private app's access token;
    - amocrm: ``url`` ``https://sever.amocrm.ru``, ``token`` a long-lived access token;
    - pipedrive: ``url`` ``https://sever.pipedrive.com``, ``token`` an API token;
    - zoho: ``url`` ``https://www.zohoapis.eu``, ``token`` a refresh token, with ``client_id``,
      ``client_secret`` and ``token_url`` (``https://accounts.zoho.eu/oauth/v2/token``): access
      tokens (an hour) are obtained and renewed from it."""

    url: str = Field(pattern=r"^https?://[^\s]+$")
    token: Secret
    client_id: str | None = None
    client_secret: Secret | None = None
    token_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    enrich: bool = True
    """Read the record behind each event before the rules match (ID-only webhooks)."""
    max_retries: int = Field(4, ge=0, le=10)
    """Retries of one call after 429/503/5xx/network errors (Retry-After is obeyed, capped)."""
    max_wait_seconds: float = Field(20.0, gt=0, le=300)
    """The longest single wait between two tries of one call."""
    timeout_seconds: float = Field(10.0, gt=0, le=120)


class Account(_Strict):
    """The credentials of one way in; subclasses add the vendor's secret fields."""

    api: ApiAccess | None = None

    def secret_refs(self) -> dict[str, SecretRef]:
        refs = {name: value for name, value in self if isinstance(value, SecretRef)}
        if self.api is not None:
            refs["api.token"] = self.api.token
            if self.api.client_secret is not None:
                refs["api.client_secret"] = self.api.client_secret
        return refs


class Bitrix24Account(Account):
    application_token: Secret
    """The outbound webhook's (or app's) ``application_token`` (sent in ``auth[application_token]``)."""
    domain: str | None = None
    """If set, ``auth[domain]`` must equal it (e.g. ``sever.bitrix24.ru``)."""


class AmoCrmAccount(Account):
    token: Secret
    """amoCRM does not sign webhooks: the URL carries ``?token=<secret>``."""
    subdomain: str | None = None
    """If set, ``account[subdomain]`` must equal it."""


class HubSpotAccount(Account):
    app_secret: Secret
    public_url: str | None = None
    """The exact URL HubSpot calls (it is part of the signature); default: the URL we see."""
    legacy_signatures: list[Literal["v1", "v2"]] = []
    """Also accept ``X-HubSpot-Signature`` v1/v2 (no timestamp, so no replay protection)."""
    portal_id: int | None = None


class PipedriveAccount(Account):
    username: Secret
    password: Secret
    """HTTP Basic credentials set on the Pipedrive webhook (``http_auth_user``/``http_auth_password``)."""


class GenericAccount(Account):
    secret: Secret
    tolerance_seconds: int = Field(300, ge=1, le=3600)


class SalesforceAccount(Account):
    token: Secret
    """Outbound messages are not signed: the endpoint URL carries ``?token=<secret>``."""
    organization_id: str = Field(pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
    """The org's id (15 or 18 characters); every message's ``OrganizationId`` must be this org."""


class ZohoAccount(Account):
    token: Secret
    """The ``token`` given when the notification channel was enabled; Zoho sends it back in the body."""
    channel_ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,19}$")]] = Field(min_length=1)
    """The ``channel_id`` values of the channels enabled with this token."""


class SourceConfig(_Strict):
    """A CRM: whether it is on, who it acts as, how long an early event waits, and its accounts."""

    account_type: ClassVar[type[Account]] = Account

    enabled: bool = True
    memberships: list[Annotated[str, Field(pattern=MEMBERSHIP)]] = []
    """``department/role`` pairs of the integration actor ``crm:<source>`` that opens and fires."""
    park_seconds: int = Field(86_400, ge=0, le=30 * 86_400)
    """How long an event for a case that does not exist yet waits for it (0: never wait)."""
    api: ApiAccess | None = None
    accounts: Mapping[AccountName, Account] = {}
    """More accounts by name (each subclass narrows the type)."""

    @model_validator(mode="after")
    def _some_account(self) -> SourceConfig:
        own = self._own()
        required = [n for n, f in self.account_type.model_fields.items() if f.is_required()]
        given = [n for n in required if own.get(n) is not None]
        if given and len(given) != len(required):
            missing = sorted(set(required) - set(given))
            raise ValueError(f"the default account misses {', '.join(missing)}")
        if not given and not self.accounts:
            raise ValueError(f"give {', '.join(required)} (the default account) or accounts:")
        if given and DEFAULT_ACCOUNT in self.accounts:
            raise ValueError("an account named 'default' clashes with the fields written under the source")
        return self

    def _own(self) -> dict[str, Any]:
        return {name: getattr(self, name, None) for name in self.account_type.model_fields}

    def all_accounts(self) -> dict[str, Account]:
        """Every account of this source, the one written directly under it first (``default``)."""
        own = self._own()
        accounts: dict[str, Account] = {}
        if all(own.get(n) is not None for n, f in self.account_type.model_fields.items() if f.is_required()):
            accounts[DEFAULT_ACCOUNT] = self.account_type.model_validate(
                {k: v for k, v in own.items() if v is not None})
        accounts.update(self.accounts)
        return accounts

    def account(self, name: str | None) -> Account | None:
        """The named account (None: it is no longer configured; never another account's)."""
        return self.all_accounts().get(name or DEFAULT_ACCOUNT)


class Bitrix24Source(SourceConfig):
    account_type = Bitrix24Account
    accounts: Mapping[AccountName, Bitrix24Account] = {}
    application_token: Secret | None = None
    domain: str | None = None


class AmoCrmSource(SourceConfig):
    account_type = AmoCrmAccount
    accounts: Mapping[AccountName, AmoCrmAccount] = {}
    token: Secret | None = None
    subdomain: str | None = None


class HubSpotSource(SourceConfig):
    account_type = HubSpotAccount
    accounts: Mapping[AccountName, HubSpotAccount] = {}
    app_secret: Secret | None = None
    public_url: str | None = None
    legacy_signatures: list[Literal["v1", "v2"]] = []
    portal_id: int | None = None
    stage_properties: dict[str, str] = {"deal": "dealstage", "ticket": "hs_pipeline_stage"}
    """Per object type, the property whose change is a stage change."""


class PipedriveSource(SourceConfig):
    account_type = PipedriveAccount
    accounts: Mapping[AccountName, PipedriveAccount] = {}
    username: Secret | None = None
    password: Secret | None = None


class GenericSource(SourceConfig):
    account_type = GenericAccount
    accounts: Mapping[AccountName, GenericAccount] = {}
    secret: Secret | None = None
    tolerance_seconds: int = Field(300, ge=1, le=3600)


class SalesforceSource(SourceConfig):
    account_type = SalesforceAccount
    accounts: Mapping[AccountName, SalesforceAccount] = {}
    token: Secret | None = None
    organization_id: str | None = None


class ZohoSource(SourceConfig):
    account_type = ZohoAccount
    accounts: Mapping[AccountName, ZohoAccount] = {}
    token: Secret | None = None
    channel_ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,19}$")]] | None = None


class CrmSources(_Strict):
    bitrix24: Bitrix24Source | None = None
    amocrm: AmoCrmSource | None = None
    hubspot: HubSpotSource | None = None
    pipedrive: PipedriveSource | None = None
    generic: GenericSource | None = None
    salesforce: SalesforceSource | None = None
    zoho: ZohoSource | None = None

    def enabled(self) -> dict[str, SourceConfig]:
        return {name: cfg for name, cfg in self if isinstance(cfg, SourceConfig) and cfg.enabled}


SourceName = Literal["bitrix24", "amocrm", "hubspot", "pipedrive", "generic", "salesforce", "zoho"]
Secrets = dict[str, dict[str, str]]
"""Per account name, its resolved secrets by field (``api.token`` for the API's)."""


def resolve_source_secrets(source: str, config: SourceConfig, environ: Mapping[str, str]) -> Secrets:
    """Read every secret of every account of one source; all problems are reported at once."""
    resolved: Secrets = {}
    problems: list[str] = []
    for name, account in config.all_accounts().items():
        where = f"crm.sources.{source}" + ("" if name == DEFAULT_ACCOUNT else f".accounts.{name}")
        resolved[name] = {}
        for field, ref in account.secret_refs().items():
            try:
                resolved[name][field] = ref.resolve(environ)
            except SecretError as exc:
                problems.append(f"{where}.{field}: {exc}")
    if problems:
        raise SecretError("; ".join(problems))
    return resolved
