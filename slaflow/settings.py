"""One settings object, read from the environment at start-up (never at import time)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EXAMPLE_COMPANY = Path(__file__).parent / "examples" / "company.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    database_url: str = Field("sqlite:///./slaflow.db", description="SQLAlchemy URL; SQLite file by default")
    config: Path = Field(EXAMPLE_COMPANY, description="company configuration YAML")
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="largest HTTP request body (bytes) by default")
    body_limits: dict[str, int] = Field(
        default_factory=lambda: {"/dashboard": 64 * 1024},
        description="largest request body per path prefix, e.g. {\"/webhooks/\": 2097152}; the longest prefix wins",
    )


def load_settings() -> Settings:
    return Settings()
