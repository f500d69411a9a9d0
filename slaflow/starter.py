"""A starter company file for ``slaflow init --company NAME --departments sales,warehouse``.

It uses every built-in case type whose requesting and performing departments the company has;
steps the built-in gives to departments the company lacks go to the performing department
(``departments: {logistics: warehouse}``, written out so it can be edited). Each department gets
a head and one member holding the roles its steps need. The file is validated before it is
written, so it always loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError
from state_machines.builtin import BUILTIN_TYPES
from state_machines.builtin_choice import ALWAYS
from state_machines.values import IDENT

WORKDAY = [["09:00", "13:00"], ["14:00", "18:00"]]
LOCALES = ("ru", "en", "pl")


def starter_config(
    company: str, departments: list[str], *, locale: str = "en", timezone: str = "Europe/Moscow",
    holidays_country: str | None = "RU",
) -> dict[str, Any]:
    """The starter configuration as a mapping (see the module docstring)."""
    import re

    codes = list(dict.fromkeys(code.strip() for code in departments if code.strip()))
    bad = [code for code in codes if not re.match(IDENT, code)]
    if bad:
        raise ConfigError(f"--departments: {', '.join(map(repr, bad))}: a department code must be lower_snake_case")
    if not codes:
        raise ConfigError("--departments: give at least one department code, e.g. sales,warehouse")
    if locale not in LOCALES:
        raise ConfigError(f"--locale: {locale!r} is not one of {', '.join(LOCALES)}")
    builtins, roles = _builtins_for(codes)
    days = ("mon", "tue", "wed", "thu", "fri")
    calendar: dict[str, Any] = {"tz": timezone, "weekly_hours": {day: [list(i) for i in WORKDAY] for day in days}}
    if holidays_country:
        calendar["holidays_country"] = holidays_country
    people: dict[str, Any] = {"director": {"name": "Director", "email": "director@example.com"}}
    depts: dict[str, Any] = {}
    for code in codes:
        title = code.replace("_", " ").capitalize()
        people[f"{code}_head"] = {"name": f"Head of {title}", "email": f"{code}.head@example.com",
                                  "manager": "director"}
        members = []
        if roles.get(code):
            people[f"{code}_staff"] = {"name": f"{title} staff", "email": f"{code}@example.com",
                                       "manager": f"{code}_head"}
            members = [{"person": f"{code}_staff", "roles": sorted(roles[code])}]
        depts[code] = {"name": title, "head": f"{code}_head", "calendar": "office", "members": members}
    return {
        "company": {"name": company, "locale": locale, "director": "director"},
        "calendars": {"office": calendar},
        "people": people,
        "departments": depts,
        "builtin_case_types": builtins,
        "case_types": {},
    }


def _builtins_for(codes: list[str]) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """Built-in types the departments can run (adapted), and the roles each department needs."""
    from state_machines.builtin_choice import BuiltinOverride, chosen_builtins

    chosen: dict[str, Any] = {}
    for name, definition in BUILTIN_TYPES.items():
        if name in ALWAYS or definition.requester not in codes or definition.performer not in codes:
            continue
        missing = sorted(code for code in definition.departments() if code not in codes)
        chosen[name] = {"departments": {code: definition.performer for code in missing}} if missing else {}
    adapted, problems = chosen_builtins({n: BuiltinOverride.model_validate(o) for n, o in chosen.items()})
    if problems:  # a bug in the generator, not the user's doing
        raise RuntimeError("; ".join(problems))
    roles: dict[str, set[str]] = {}
    for name, definition in adapted.items():
        if name in ALWAYS:
            continue
        for state in definition.states.values():
            if state.department and state.role and state.role != "head":
                roles.setdefault(state.department, set()).add(state.role)
        for transition in definition.transitions:
            for rule in transition.allowed:
                dept, _, role = rule.partition("/")
                if role and role != "head" and dept in codes:
                    roles.setdefault(dept, set()).add(role)
    return chosen, roles


HEADER = """\
# {company}: a starter company for slaflow (written by `slaflow init --company`).
# Edit people, e-mails and calendars; check with `slaflow config validate {path}`.
# builtin_case_types: the built-in case types in use; `departments:` hands a built-in's
# department to one of yours, `target:` / `states: {{STATE: {{target: 4h}}}}` change targets.
# Not used (their departments are missing here): {unused}.
"""


def write_starter(path: Path, config: dict[str, Any], *, force: bool = False) -> None:
    """Validate, then write the starter file (never over an existing file without ``force``)."""
    from runtime.company import company_from_mapping

    if path.exists() and not force:
        raise ConfigError(f"{path} exists already; pass --force to replace it, or --config OTHER.yaml")
    company_from_mapping(config, source=str(path))  # raises if the generator made something invalid
    unused = sorted(set(BUILTIN_TYPES) - set(config["builtin_case_types"]) - ALWAYS)
    header = HEADER.format(company=config["company"]["name"], path=path, unused=", ".join(unused) or "none")
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    path.write_text(header + body, encoding="utf-8")
