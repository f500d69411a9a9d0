"""Channel settings (servers, tokens, secrets) from the environment, prefix ``SLAFLOW_``.

Read by `load_notification_settings` at start-up, never at import time. A secret may come from
a file (``SLAFLOW_SMTP_PASSWORD_FILE`` and friends, e.g. a Docker or Kubernetes secret); the
file wins over the plain variable so a leaked default cannot shadow the mounted secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TlsMode = Literal["starttls", "tls", "none"]
_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    smtp_host: str | None = Field(None, description="SMTP server; e-mail fails permanently while unset")
    smtp_port: int | None = Field(None, description="default 587 (starttls), 465 (tls), 25 (none)")
    smtp_tls: TlsMode = Field("starttls", description="starttls, tls (implicit TLS) or none")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: Path | None = None
    smtp_from: str = Field("slaflow@localhost", description="From: address of every e-mail")
    smtp_ca_file: Path | None = Field(None, description="CA bundle to verify the SMTP server (e.g. a company CA)")
    smtp_timeout: float = Field(15.0, gt=0)

    telegram_token: SecretStr | None = None
    telegram_token_file: Path | None = None
    telegram_api_base: str = Field("https://api.telegram.org", description="Bot API base URL")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="the secret_token given to setWebhook; the app's /telegram/webhook is off without it"
    )
    telegram_webhook_secret_file: Path | None = None

    slack_webhook_url: SecretStr | None = Field(
        None, description="incoming webhook for people whose chat.slack is a handle, not a webhook URL"
    )

    webhook_url: str | None = Field(None, description="generic JSON webhook")
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None

    http_timeout: float = Field(10.0, gt=0)
    public_url: str = Field("", description="base URL of the slaflow app, for links in messages")
    ack_link_secret: SecretStr | None = Field(
        None, description="signs one-click acknowledge links in e-mails (none without it); the app needs the same"
    )
    notify_file_dir: Path | None = Field(None, description="folder of the file transport (overrides the config)")
    notify_redirect: str | None = Field(
        None, description="deliver every message through this transport instead (e.g. 'file' for a demo)"
    )

    @model_validator(mode="after")
    def _secrets_from_files(self) -> NotificationSettings:
        for name in ("smtp_password", "telegram_token", "telegram_webhook_secret", "webhook_secret"):
            path: Path | None = getattr(self, f"{name}_file")
            if path is not None:
                try:
                    secret = path.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    problem = exc.strerror or exc
                    raise ValueError(f"SLAFLOW_{name.upper()}_FILE: cannot read {path}: {problem}") from None
                setattr(self, name, SecretStr(secret))
        return self

    @property
    def smtp_port_effective(self) -> int:
        return self.smtp_port or _DEFAULT_PORTS[self.smtp_tls]


def load_notification_settings() -> NotificationSettings:
    """Read and validate the environment (call once at start-up)."""
    return NotificationSettings()
