"""Build the regulation from the loaded configuration and render it with Jinja2.

Python only gathers facts (who owns which step, targets, calendars, chains, duties) into plain
dictionaries with names resolved for the locale; every sentence is in ``templates/*.j2`` and the
locale's fixed texts in ``locales/<locale>.yaml``. Nothing is written by hand, so the document
cannot drift from the configuration the engine runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from core.errors import SlaflowError
from duties.config import CronSchedule, DutyConfig, duties_of
from leads.config import leads_section
from org.audience import AudienceSpec, AudienceWord, Named, Scope, resolve
from org.chart import Company
from reports.scope import report_zone
from sla.calendar import BusinessCalendar
from sla.calendar_config import WEEKDAYS
from state_machines import duty as duty_type
from state_machines.machine import machine_for
from state_machines.parts import StateDef, TermDef
from state_machines.schema import CaseTypeDef
from state_machines.values import label_text

HERE = Path(__file__).parent
LOCALES: tuple[str, ...] = ("ru", "en", "pl")
FORMATS: tuple[str, ...] = ("md", "html")


def escalation_chain(company: Company, department: str) -> list[str]:
    """Who a missed step of ``department`` escalates to after its owner, as person ids: the
    department head, the head's manager, the company director; each once. This is the default
    chain as the notifications resolve it (``department_head``, ``head_manager``, ``director``);
    the one place to read configured chains."""
    head = company.head_of(department)
    chain: list[str] = []
    for person in (head, company.manager_of(head), company.config.company.director):
        if person is not None and person not in chain:
            chain.append(person)
    return chain


@lru_cache(maxsize=len(FORMATS))
def environment(fmt: str) -> Environment:
    """One environment per output format: HTML escapes everything the configuration says
    (names, labels), Markdown escapes nothing; the shared macros follow the format."""
    html = fmt == "html"
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = _fmt_html if html else _fmt_text
    return env


def _fmt_html(text: str, *args: Any) -> Markup:
    """A fixed text (ours, trusted) with ``%s`` slots; plain arguments are escaped, macro output
    (already escaped) is not escaped twice."""
    return Markup(text) % args


def _fmt_text(text: str, *args: Any) -> str:
    return text % tuple(str(arg) for arg in args)


@lru_cache(maxsize=len(LOCALES))
def texts(locale: str) -> dict[str, Any]:
    """The fixed texts of one locale."""
    loaded = yaml.safe_load((HERE / "locales" / f"{locale}.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def render_regulation(
    company: Company, locale: str | None = None, *, duties: Sequence[DutyConfig] | None = None
) -> dict[str, str]:
    """The regulation as ``{"md": markdown, "html": html}``."""
    locale = _locale(company, locale)
    context = regulation_context(company, locale, duties=duties)
    return {fmt: environment(fmt).get_template(f"regulation.{fmt}.j2").render(context) for fmt in FORMATS}


def write_regulation(
    company: Company, out_dir: Path, locale: str | None = None, *, duties: Sequence[DutyConfig] | None = None
) -> list[Path]:
    """Write ``regulation.<locale>.md`` and ``.html`` into ``out_dir``; return the paths."""
    locale = _locale(company, locale)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt, text in render_regulation(company, locale, duties=duties).items():
        path = out_dir / f"regulation.{locale}.{fmt}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _locale(company: Company, locale: str | None) -> str:
    locale = locale or company.locale
    if locale not in LOCALES:
        raise SlaflowError(f"unknown locale {locale!r}; the regulation is available in {', '.join(LOCALES)}")
    return locale


# --------------------------------------------------------------------------- facts


class _Facts:
    """Resolves codes to names for one locale and shapes each part of the document."""

    def __init__(self, company: Company, locale: str) -> None:
        self.company, self.locale = company, locale

    def person(self, person: str) -> str:
        return self.company.person_name(person, self.locale)

    def department(self, code: str) -> dict[str, Any]:
        return {"code": code, "name": self.company.department_name(code, self.locale)}

    def chain(self, department: str, role: str | None = None) -> list[str]:
        """Names of the escalation chain; a step the head holds starts above the head."""
        chain = escalation_chain(self.company, department)
        if role == "head" and len(chain) > 1:
            chain = chain[1:]
        return [self.person(p) for p in chain]

    def holders(self, department: str, role: str | None) -> list[str]:
        return [self.person(p) for p in self.company.members(department, role)] if role else []

    def calendar(self, name: str) -> dict[str, Any]:
        calendar: BusinessCalendar = self.company.calendars[name]
        config = calendar.config
        runs: list[dict[str, Any]] = []  # consecutive days with the same hours: "mon–fri 09:00–18:00"
        previous = None
        for day in WEEKDAYS:
            hours = [f"{start}–{end}" for start, end in config.weekly_hours.get(day, [])]
            if hours and runs and runs[-1]["hours"] == hours and runs[-1]["last"] == previous:
                runs[-1]["last"] = day
            elif hours:
                runs.append({"first": day, "last": day, "hours": hours})
            previous = day
        return {
            "name": name,
            "tz": config.tz,
            "weekly": runs,
            "country": config.holidays_country,
            "holidays": [day.isoformat() for day in config.holidays],
            "extra_days": [day.date.isoformat() for day in config.extra_working_days],
            "shortened": [day.date.isoformat() for day in config.shortened_days],
        }

    def rule(self, rule: str) -> dict[str, Any]:
        """An ``allowed`` entry: the system, a whole department, or a role in it (with names)."""
        if rule == "system":
            return {"system": True}
        code, _, role = rule.partition("/")
        return {
            "system": False,
            "department": self.department(code),
            "role": role or None,
            "people": self.holders(code, role or None),
        }

    def step(self, definition: CaseTypeDef, name: str, state: StateDef) -> dict[str, Any]:
        department = state.department or definition.performer
        return {
            "name": name,
            "label": label_text(state.label, self.locale),
            "department": self.department(department),
            "role": state.role,
            "holders": self.holders(department, state.role),
            "target": state.target,
            "target_rules": [{"when": rule.when, "target": rule.target} for rule in state.target_rules],
            "timed": state.target is not None or bool(state.target_rules),
            "warn_at": state.warn_at,
            "paused": state.paused,
            "auto": {"after": state.auto.after, "trigger": definition.trigger_label(state.auto.trigger, self.locale)}
            if state.auto
            else None,
            "calendar": self.calendar(self.company.config.departments[department].calendar),
            "escalation": self.chain(department, state.role),
            "levels": self.levels(definition, name, department) if state.target is not None or state.target_rules
            else [],
        }

    def levels(self, definition: CaseTypeDef, state: str, department: str) -> list[dict[str, Any]]:
        """The step's configured escalation levels, with the people they reach today."""
        head = self.company.head_of(department)
        who = {
            AudienceWord.DEPARTMENT_HEAD: [head],
            AudienceWord.HEAD_MANAGER: [m for m in [self.company.manager_of(head)] if m],
            AudienceWord.DIRECTOR: [self.company.config.company.director],
        }
        levels = []
        for level in definition.escalation_of(state):
            names: list[str] = []
            for spec in level.notify:
                parsed = AudienceSpec.read(spec) or AudienceSpec()
                if parsed.word == AudienceWord.OWNER:
                    names.append(texts(self.locale)["the_owner"])
                elif parsed.named == Named.PERSON:
                    names.append(self.person(parsed.name))
                elif parsed.named == Named.DEPARTMENT:
                    names.append(self.company.department_name(parsed.name, self.locale))
                elif parsed.word is not None:
                    names += [self.person(p) for p in who.get(parsed.word, [])]
            target = level.reassign_to
            reassign = None if target is None else self.person(level.reassign_person or head)
            levels.append({"after": level.after, "names": list(dict.fromkeys(names)), "reassign": reassign})
        return levels

    def diagram(self, definition: CaseTypeDef) -> str:
        """The state diagram as inline SVG, in the reader's language (labels, not ids)."""
        from regulation.diagram import state_svg

        def lines_of(name: str) -> list[str]:
            state = definition.states[name]
            lines = [label_text(state.label, self.locale)]
            if state.department:
                lines.append(self.company.department_name(state.department, self.locale))
            if state.target is not None:
                hours, minutes = divmod(int(state.target), 60)
                lines.append(f"{hours}h" * bool(hours) + f"{minutes}m" * bool(minutes) or "0m")
            return lines

        return state_svg(definition, lines_of, lambda trigger: definition.trigger_label(trigger, self.locale))

    def case_type(self, definition: CaseTypeDef) -> dict[str, Any]:
        states = definition.states
        return {
            "name": definition.name,
            "label": label_text(definition.label, self.locale),
            "description": label_text(definition.description, self.locale),
            "definitions": self.terms(definition.definitions),
            "requester": self.department(definition.requester),
            "performer": self.department(definition.performer),
            "target": definition.target,
            "open_allowed": [self.rule(r) for r in definition.open_allowed or [definition.requester]],
            "open_requires": [definition.field_label(f, self.locale) for f in definition.open_requires],
            "mermaid": machine_for(definition).mermaid(self.locale),
            "svg": Markup(self.diagram(definition)),
            "steps": [self.step(definition, n, s) for n, s in states.items() if not s.terminal],
            "outcomes": [label_text(s.label, self.locale) for s in states.values() if s.terminal],
            "transitions": [
                {
                    "trigger": t.trigger,
                    "label": definition.trigger_label(t.trigger, self.locale),
                    "sources": [label_text(states[s].label, self.locale) for s in t.source],
                    "dest": label_text(states[t.dest].label, self.locale),
                    "allowed": [self.rule(r) for r in t.allowed],
                    "requires": [definition.field_label(f, self.locale) for f in t.requires],
                }
                for t in definition.transitions
            ],
        }

    def terms(self, terms: Sequence[TermDef]) -> list[dict[str, str]]:
        return [
            {"term": label_text(term.term, self.locale), "definition": label_text(term.definition, self.locale)}
            for term in terms
        ]

    def duty(self, duty: DutyConfig) -> dict[str, Any]:
        schedule = duty.schedule
        performer_calendar = self.company.config.departments[duty.department].calendar
        if isinstance(schedule, CronSchedule):
            when = {"kind": "cron", "cron": schedule.cron, "tz": schedule.tz, "calendar": schedule.calendar}
        else:
            calendar = self.company.calendars[schedule.working_days]
            when = {
                "kind": "working_days",
                "calendar": schedule.working_days,
                "tz": calendar.config.tz,
                "at": schedule.at,
            }
        scope = Scope(duty.department, duty.role, requester=duty.requester, performer=duty.department)
        return {
            "name": duty.name,
            "label": label_text(duty.label, self.locale),
            "department": self.department(duty.department),
            "role": duty.role,
            "holders": self.holders(duty.department, duty.role),
            "requester": self.department(duty.requester),
            "waiver": self.person(self.company.head_of(duty.requester)),
            "schedule": when,
            "deadline": {"business": duty.deadline.business, "at": duty.deadline.at},
            "calendar": self.calendar(performer_calendar),
            "trigger": duty_type.DEFINITION.trigger_label(duty_type.DELIVER, self.locale),
            "requires": duty.requires,
            "notify": [self.person(p) for p in resolve(self.company, duty.notify, scope)],
            "warn_at": duty.warn_at,
            "escalation": self.chain(duty.department, duty.role),
        }


def regulation_context(company: Company, locale: str, *, duties: Sequence[DutyConfig] | None = None) -> dict[str, Any]:
    """Everything the templates show, as plain data."""
    facts = _Facts(company, locale)
    duty_list = list(duties) if duties is not None else duties_of(company)
    types = [facts.case_type(definition) for name, definition in company.case_types.items() if name != duty_type.NAME]
    duty_views = [facts.duty(duty) for duty in duty_list]
    duty_terms = company.case_types.get(duty_type.NAME)
    departments = []
    for code, dept in company.config.departments.items():
        owes, owed = [], []
        for case_type in types:
            for step in (s for s in case_type["steps"] if not s["paused"]):  # a paused step is owed to nobody
                entry = {"case_type": case_type["label"], "step": step}
                if step["department"]["code"] == code:
                    owes.append({**entry, "to": case_type["requester"]})
                elif case_type["requester"]["code"] == code:
                    owed.append({**entry, "to": case_type["requester"]})
        departments.append(
            {
                **facts.department(code),
                "head": facts.person(dept.head),
                "parent": facts.department(dept.parent) if dept.parent else None,
                "calendar": facts.calendar(dept.calendar),
                "members": [{"name": facts.person(m.person), "roles": m.roles} for m in dept.members],
                "escalation": facts.chain(code),
                "owes": owes,
                "owed": owed,
                "duties_owed": [d for d in duty_views if d["department"]["code"] == code],
                "duties_received": [d for d in duty_views if d["requester"]["code"] == code],
            }
        )
    base = texts(locale)
    roles = {**base.get("roles", {}), **{code: company.role_name(code, locale) for code in company.config.roles}}
    return {
        "t": {**base, "roles": roles},
        "locale": locale,
        "company": {
            "name": label_text(company.config.company.name, locale),
            "director": facts.person(company.config.company.director),
        },
        "definitions": facts.terms(company.config.definitions),
        "case_types": types,
        "duties": duty_views,
        "duty_definitions": facts.terms(duty_terms.definitions) if duty_terms is not None else [],
        "departments": departments,
        "calendars": [facts.calendar(name) for name in company.config.calendars],
        "leads": _leads(facts),
    }


def _leads(facts: _Facts) -> dict[str, Any] | None:
    """The lead SLAs and the weekly letter (leads), when the company keeps leads."""
    config = leads_section(facts.company)
    if config is None:
        return None
    sales = config.sales
    return {
        "sales": facts.department(sales),
        "marketing": facts.department(config.marketing),
        "first_response": config.first_response,
        "qualification": config.qualification,
        "calendar": facts.calendar(facts.company.config.departments[sales].calendar),
        "sales_head": facts.person(facts.company.head_of(sales)),
        "marketing_head": facts.person(facts.company.head_of(config.marketing)),
        "letter_cron": config.letter_cron,
        "letter_tz": str(report_zone(facts.company)),  # the flow's cron runs in the head office's zone
    }
