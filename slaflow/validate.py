"""Every check a company configuration must pass before ``serve``, the worker or the engine use
it, in one place: ``slaflow config validate`` reports all problems at once.

Loading (``load_company``) already checks the schema and the org chart; this adds what only
shows up later: CRM rules and API tokens against the company (as ``serve`` checks them),
escalation and notification recipients, calendars that never have working time, manager
cycles. A calendar needs a "now" to look ahead: the caller passes it (time is an input).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from core.errors import ConfigError
from crm.config import crm_config
from notifications.config import notifications_config
from org.audience import AudienceSpec, Named
from org.chart import Company, OrgConfig
from runtime.company import load_company

LOOK_AHEAD = timedelta(days=366)


def validate_file(path: Path, now: datetime) -> tuple[Company | None, list[str]]:
    """The loaded company (None if it does not load) and every problem, each ``FILE: path: problem``."""
    try:
        company = load_company(path)
    except ConfigError as exc:
        return None, str(exc).splitlines()
    return company, [f"{company.source}: {problem}" for problem in company_problems(company, now)]


def company_problems(company: Company, now: datetime) -> list[str]:
    from crm.config import check_against

    return [
        *check_against(crm_config(company), company),
        *manager_cycles(company.config),
        *recipient_problems(company),
        *idle_calendars(company, now),
    ]


def manager_cycles(config: OrgConfig) -> list[str]:
    """``people.X.manager`` chains that loop (an escalation to "the head's manager" would circle)."""
    problems: list[str] = []
    reported: set[str] = set()
    for start in config.people:
        chain, cursor = [start], config.people[start].manager
        while cursor is not None and cursor in config.people and cursor not in chain:
            chain.append(cursor)
            cursor = config.people[cursor].manager
        if cursor in chain and cursor not in reported:
            loop = chain[chain.index(cursor):]
            reported.update(loop)
            problems.append(f"people.{cursor}.manager: the manager chain loops: {' -> '.join([*loop, cursor])}")
    return problems


def _explicit_problems(where: str, specs: Iterable[str], company: Company) -> list[str]:
    problems = []
    config = company.config
    for spec in specs:
        parsed = AudienceSpec.read(spec)
        if parsed is None or parsed.named is None:
            continue
        person = parsed.named == Named.PERSON
        if parsed.name not in (config.people if person else config.departments):
            what = "person" if person else "department"
            problems.append(f"{where}: {spec!r} names no {what} in the company config")
    return problems


def recipient_problems(company: Company) -> list[str]:
    """Escalation levels and notification audiences that name nobody."""
    problems: list[str] = []
    for kind, specs in notifications_config(company).audiences.items():
        problems += _explicit_problems(f"notifications.audiences.{kind}", specs, company)
    for name, case_type in company.case_types.items():
        where = f"case_types.{name}" if name in company.config.case_types else f"case type {name!r}"
        chains = [("escalation", case_type.escalation)] + [
            (f"states.{state_name}.escalation", state.escalation)
            for state_name, state in case_type.states.items()
            if state.escalation is not None
        ]
        for path, chain in chains:
            for index, level in enumerate(chain.levels):
                here = f"{where}.{path}.levels[{index}]"
                problems += _explicit_problems(f"{here}.notify", level.notify, company)
                if level.reassign_to is not None and level.reassign_person is not None:
                    problems += _explicit_problems(f"{here}.reassign_to", [level.reassign_to], company)
    return problems


def idle_calendars(company: Company, now: datetime) -> list[str]:
    """A calendar in use with no working time in the coming year: every deadline on it would be
    impossible to compute."""
    used = {dept.calendar for dept in company.config.departments.values()}
    problems = []
    for name in sorted(used):
        calendar = company.calendars[name]
        try:
            first = next(iter(calendar.working_intervals(now, now + LOOK_AHEAD)), None)
        except Exception as exc:  # a calendar that cannot even be computed is the same problem
            first, reason = None, f" ({exc})"
        else:
            reason = ""
        if first is None:
            problems.append(
                f"calendars.{name}: no working time between {now:%Y-%m-%d} and "
                f"{now + LOOK_AHEAD:%Y-%m-%d}{reason}; every deadline on it would fail"
            )
    return problems
