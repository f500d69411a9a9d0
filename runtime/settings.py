"""One settings object, read from the environment at start-up (never at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EXAMPLE_COMPANY = Path(__file__).parent / "examples" / "company.yaml"
"""The demo's company. Never a silent default: other commands need the user's own file."""
DEFAULT_COMPANY_FILE = Path("slaflow.yaml")
"""Where ``slaflow init --company`` writes the starter company, and where commands look for it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLAFLOW_", extra="ignore")

    database_url: str = Field("sqlite:///./slaflow.db", description="SQLAlchemy URL; SQLite file by default")
    config: Path | None = Field(None, description="company configuration YAML (default: ./slaflow.yaml)")
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="largest HTTP request body (bytes) by default")
    body_limits: dict[str, int] = Field(
        default_factory=lambda: {"/dashboard": 64 * 1024, "/dashboard/upload/": 10 * 1024 * 1024 + 64 * 1024},
        description="largest request body per path prefix, e.g. {\"/webhooks/\": 2097152}; the longest prefix wins",
    )

    data_dir: Path = Field(Path("./slaflow-data"), description="folder for files people attach to cases")
    attachment_max_bytes: int = Field(10 * 1024 * 1024, ge=1, description="largest attached file (bytes)")
    attachment_store: Literal["local", "s3"] = Field(
        "local", description="local: under data_dir; s3: an S3-compatible bucket (AWS, MinIO, Yandex, Ceph)")
    s3_bucket: str | None = Field(None, description="bucket of the attachments (attachment_store=s3)")
    s3_prefix: str = Field("", description="key prefix inside the bucket, e.g. 'slaflow/'")
    s3_endpoint_url: str | None = Field(
        None, description="the store's URL for a non-AWS store, e.g. https://storage.yandexcloud.net")
    s3_region: str | None = Field(None, description="region, e.g. ru-central1 or us-east-1")
    s3_access_key_id: str | None = Field(None, description="default: the AWS chain (AWS_* variables, a role)")
    s3_access_key_id_file: Path | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_secret_access_key_file: Path | None = None
    s3_timeout: float = Field(10.0, gt=0, description="seconds to connect to or wait for the store")

    def company_file(self) -> Path:
        """The company file to load: the one given, else ./slaflow.yaml; never the example."""
        from core.errors import ConfigError

        if self.config is not None:
            return self.config
        if DEFAULT_COMPANY_FILE.exists():
            return DEFAULT_COMPANY_FILE
        raise ConfigError(
            f"no company configuration: pass --config FILE or set SLAFLOW_CONFIG (none given, and no "
            f"./{DEFAULT_COMPANY_FILE}); create one with `slaflow init --company NAME --departments sales,warehouse`, "
            "or try the example with `slaflow demo`"
        )


def load_settings() -> Settings:
    return Settings()
