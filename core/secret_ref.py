"""Where a secret is, never what it is: a config names an environment variable (or its
``_FILE`` twin) or a file, and the value is read only when needed. CRM accounts and the OpenID
Connect client both use it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


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
