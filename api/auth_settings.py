"""Settings of sign-in, sessions and rate limits (``SLAFLOW_*`` environment variables), read
once when the app is created."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    session_hours: float = Field(12, gt=0, le=24 * 30, description="lifetime of a browser session")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: Secure when the request came over https (run uvicorn with --proxy-headers "
                            "behind a TLS proxy); always: also over plain http (a TLS proxy that hides it)")
    session_secret: str | None = Field(None, min_length=32, description="signs session cookies; default: a "
                                       "random key made once and kept in the database")
    session_secret_file: Path | None = None
    login_failures_per_account: int = Field(5, ge=1)
    login_failures_per_address: int = Field(20, ge=1)
    token_failures_per_address: int = Field(20, ge=1)
    failure_window_minutes: float = Field(15, gt=0)

    def signing_secret(self) -> str | None:
        if self.session_secret:
            return self.session_secret
        if self.session_secret_file is not None:
            try:
                value = self.session_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"SLAFLOW_SESSION_SECRET_FILE: cannot read {self.session_secret_file}: "
                                  f"{exc.strerror or exc}") from None
            if len(value) < 32:
                raise ConfigError("SLAFLOW_SESSION_SECRET_FILE: the secret must have at least 32 characters")
            return value
        return None


def auth_settings(environ: Mapping[str, str]) -> AuthSettings:
    wanted = {key.removeprefix("SLAFLOW_").lower(): value for key, value in environ.items()
              if key.startswith("SLAFLOW_") and key.removeprefix("SLAFLOW_").lower() in AuthSettings.model_fields}
    try:
        return AuthSettings.model_validate(wanted)
    except ValidationError as exc:
        problems = "; ".join(f"SLAFLOW_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(problems) from None
