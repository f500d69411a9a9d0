"""The ``auth:`` section of the company file: how people sign in.

```yaml
auth:
  password: true                    # sign-in with a password (set by invitation); default true
  oidc:                             # optional: OpenID Connect (Keycloak, Google Workspace, Yandex 360 ...)
    issuer: https://id.example.com/realms/sever
    client_id: slaflow
    client_secret: {env: SLAFLOW_OIDC_SECRET}   # or {file: /run/secrets/oidc}
    label: {ru: "Войти через корпоративный вход", en: "Sign in with company SSO"}
```
The provider's e-mail claim is matched to ``people.*.email``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import ConfigError
from core.secret_ref import SecretError, SecretRef
from state_machines.values import Label

if TYPE_CHECKING:  # company.py imports this module for its ``auth:`` section
    from org.chart import Company


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MEMBERSHIP = r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$"
"""A ``department/role`` pair an integration or token acts with."""


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


class OidcConfig(_Strict):
    issuer: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")
    """The provider's issuer URL; its ``/.well-known/openid-configuration`` is read at sign-in."""
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretRef
    scopes: list[str] = ["openid", "email", "profile"]
    label: Label = "Single sign-on"
    require_verified_email: bool = True
    """Refuse an ID token whose ``email_verified`` claim is false."""


class AuthConfig(_Strict):
    password: bool = True
    oidc: OidcConfig | None = None


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: list[str]
    label: Label
    require_verified_email: bool


def oidc_settings(company: Company, environ: Mapping[str, str]) -> OidcSettings | None:
    """The OIDC client with its secret resolved (a missing secret stops the server at start-up)."""
    auth = auth_config(company)
    if auth.oidc is None:
        return None
    oidc = auth.oidc
    try:
        secret = oidc.client_secret.resolve(environ)
    except SecretError as exc:
        raise ConfigError(f"{company.source}: auth.oidc.client_secret: {exc}") from None
    return OidcSettings(oidc.issuer.rstrip("/"), oidc.client_id, secret, oidc.scopes, oidc.label,
                        oidc.require_verified_email)


def auth_config(company: Company) -> AuthConfig:
    """The ``auth:`` section (password sign-in only when the config has none)."""
    return company.part("auth", AuthConfig) or AuthConfig()
