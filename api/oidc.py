"""Sign-in with OpenID Connect (authorization code flow with PKCE), as a relying party built
from Authlib (``OAuth2Session`` for the code exchange) and joserfc (ID-token signature and
claims). The provider's metadata and keys are read from its discovery document.

The state, nonce and PKCE verifier of a sign-in in progress travel in a signed, short-lived,
HttpOnly cookie (``slaflow_oidc``), so any server process can finish the sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from core.errors import SlaflowError
from org.config import OidcSettings
from org.secrets import same

COOKIE = "slaflow_oidc"
PENDING_SECONDS = 600
TIMEOUT = 10.0
AGAIN = "the sign-in took too long or was started in another browser; please start again"


class OidcFailed(SlaflowError):
    """The sign-in could not be completed; the message is safe to show."""


@dataclass(frozen=True)
class Pending:
    state: str
    nonce: str
    verifier: str
    next: str


class OidcClient:
    def __init__(self, settings: OidcSettings, secret: str) -> None:
        self.settings = settings
        self._serializer = URLSafeTimedSerializer(secret, salt="slaflow-oidc")
        self._metadata: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once, on the first sign-in)."""
        if self._metadata is None:
            url = f"{self.settings.issuer}/.well-known/openid-configuration"
            found = self._get_json(url)
            if found.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise OidcFailed(f"the provider at {url} names the issuer {found.get('issuer')!r}, "
                                 f"not {self.settings.issuer!r}")
            self._metadata = found
        return self._metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = requests.get(url, timeout=TIMEOUT)
            answer.raise_for_status()
            body = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcFailed(f"the sign-in provider is not reachable ({url}): {exc}") from None
        if not isinstance(body, dict):
            raise OidcFailed(f"{url} did not answer a JSON object")
        return body

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(self.settings.client_id, self.settings.client_secret, scope=" ".join(self.settings.scopes),
                             redirect_uri=redirect_uri, code_challenge_method="S256")

    def start(self, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """The provider's authorization URL and the signed cookie value holding the pending sign-in."""
        pending = Pending(generate_token(32), generate_token(32), generate_token(48), next_path)
        with self._session(redirect_uri) as client:
            url, _ = client.create_authorization_url(self.metadata()["authorization_endpoint"], state=pending.state,
                                                     nonce=pending.nonce, code_verifier=pending.verifier)
        cookie = self._serializer.dumps([pending.state, pending.nonce, pending.verifier, pending.next])
        return url, cookie

    def pending(self, cookie: str | None, state: str) -> Pending:
        if not cookie:
            raise OidcFailed(AGAIN)
        try:
            values = self._serializer.loads(cookie, max_age=PENDING_SECONDS)
        except BadSignature:
            raise OidcFailed(AGAIN) from None
        pending = Pending(*values)
        if not same(pending.state, state):
            raise OidcFailed("the sign-in answer does not belong to this browser's sign-in; please start again")
        return pending

    def finish(self, redirect_uri: str, pending: Pending, code: str, now: datetime) -> str:
        """Exchange the code, check the ID token; return the person's verified e-mail (from the
        ID token, or from the userinfo endpoint when the provider keeps it there)."""
        metadata = self.metadata()
        try:
            with self._session(redirect_uri) as client:
                token = client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code", code=code,
                                           code_verifier=pending.verifier, timeout=TIMEOUT)
                id_token = token.get("id_token")
                if not id_token:
                    raise OidcFailed("the provider answered without an ID token (is the 'openid' scope allowed?)")
                claims = self._id_claims(id_token, pending.nonce, now)
                if "email" not in claims and metadata.get("userinfo_endpoint"):
                    answer = client.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
                    answer.raise_for_status()
                    info = answer.json()
                    if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
                        raise OidcFailed("the provider's userinfo names another subject than the ID token")
                    claims = {**info, **claims}
        except OidcFailed:
            raise
        except Exception as exc:  # authlib raises OAuthError, requests its own errors
            raise OidcFailed(f"the provider refused the sign-in: {exc}") from None
        return self._email(claims)

    def _id_claims(self, id_token: str, nonce: str, now: datetime) -> dict[str, Any]:
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(id_token, keys, algorithms=["RS256", "PS256", "ES256", "EdDSA"])
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                leeway=60,
                iss={"essential": True, "value": self.settings.issuer},
                aud={"essential": True, "value": self.settings.client_id},
                nonce={"essential": True, "value": nonce},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcFailed(f"the ID token is not valid: {exc}") from None
        return dict(decoded.claims)

    def _email(self, claims: dict[str, Any]) -> str:
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise OidcFailed("the provider gave no e-mail (is the 'email' scope allowed?)")
        if self.settings.require_verified_email and claims.get("email_verified") is False:
            raise OidcFailed(f"the provider has not verified the e-mail {email}")
        return email
