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


def load_settings() -> Settings:
    return Settings()
