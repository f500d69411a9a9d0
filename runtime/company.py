"""The company configuration: org chart, people, calendars and case types, from one YAML file.

Loading validates everything, including cross-references (a head who is not a person, a state
owned by a role nobody in the department has), and reports errors as
``FILE: path.inside.file: what is wrong`` so a broken config never reaches a running engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from core.errors import ConfigError
from crm.config import CrmConfig
from duties.config import DutyConfig, duty_problems
from leads.config import LeadsConfig, lead_problems
from notifications.config import NotificationsConfig
from org.chart import Company, OrgConfig, check_case_type
from org.config import AuthConfig
from runtime.wiring import wire
from state_machines.builtin_choice import ALWAYS, chosen_builtins
from state_machines.schema import CaseTypeDef


class CompanyConfig(OrgConfig):
    """The whole company file: the org chart's part and each feature's section."""

    notifications: NotificationsConfig = NotificationsConfig()
    crm: CrmConfig = CrmConfig()
    auth: AuthConfig = AuthConfig()
    """How people sign in (password, OpenID Connect): org/config.py."""
    duties: list[DutyConfig] = []
    """Recurring information duties (a case of the built-in ``duty`` type per occurrence)."""
    leads: LeadsConfig | None = None
    """Lead records between marketing and sales (leads/); None: the company keeps none."""

    @model_validator(mode="after")
    def _feature_references(self) -> CompanyConfig:
        problems = [*duty_problems(self, self.duties), *lead_problems(self, self.leads)]
        if problems:
            raise ValueError("\n".join(problems))
        return self


def load_company(path: str | Path) -> Company:
    """Read, validate and cross-check a company YAML file."""
    from core.yaml_loader import read_yaml

    path = Path(path)
    raw = read_yaml(path)
    return company_from_mapping(raw, source=str(path))


def company_from_mapping(raw: Any, source: str = "<memory>") -> Company:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping with company, calendars, people, departments")
    try:
        config = CompanyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None
    types, problems = chosen_builtins(config.builtin_case_types)
    for name, body in config.case_types.items():
        try:
            types[name] = CaseTypeDef.model_validate({"name": name, **body})
        except ValidationError as exc:
            raise ConfigError(_format_validation(source, exc, prefix=("case_types", name))) from None
    problems += [
        p for name, case_type in types.items() if name not in ALWAYS for p in check_case_type(config, name, case_type)
    ]
    if problems:
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(problems))
    wire()  # the features listen to the engine (idempotent)
    return Company(config=config, source=source, case_types=types)


def _format_validation(source: str, exc: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    lines = []
    for error in exc.errors():
        loc = [*prefix, *(str(part) for part in error["loc"])]
        for message in error["msg"].removeprefix("Value error, ").splitlines():
            # Cross-reference problems already start with their own path.
            lines.append(f"{source}: {'.'.join(loc)}: {message}" if loc else f"{source}: {message}")
    return "\n".join(lines)
