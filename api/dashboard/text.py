"""Texts and page rendering of the dashboard. Every label lives in
``api/templates/dashboard/translations.yaml`` (ru, en, pl); names of departments, people, case
types and states come from the company config, as in the reports."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from duties.config import duties_of
from reports.labels import LOCALES, Labels
from state_machines.schema import CaseTypeDef
from state_machines.values import label_text

if TYPE_CHECKING:
    from api.dashboard.data import OpenRow
    from api.workplace.queue_data import QueueRow

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "dashboard"
TRANSLATIONS = TEMPLATES / "translations.yaml"
FALLBACK = "en"

__all__ = ["LOCALES", "TEMPLATES", "TRANSLATIONS", "DashboardLabels", "catalog", "render"]


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    """The dashboard's translations, checked once: every key has an en text."""
    raw: dict[str, dict[str, str]] = yaml.safe_load(TRANSLATIONS.read_text(encoding="utf-8"))
    missing = [key for key, texts in raw.items() if FALLBACK not in texts]
    if missing:
        raise ValueError(f"{TRANSLATIONS}: no {FALLBACK} text for {', '.join(missing)}")
    return raw


class DashboardLabels(Labels):
    """The reports' number, date and name formatting with the dashboard's own texts (so a key
    renamed in the reports' file cannot break a page)."""

    def __call__(self, key: str, **values: Any) -> str:
        texts = catalog()[key]
        text = texts.get(self.locale) or texts[FALLBACK]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalog()

    def actor(self, name: str) -> str:
        """Who made a change: a person's name, the system (timers, sweeper), or an integration."""
        if name in self.company.config.people:
            return self.person(name)
        if name == "system" or name.startswith("system:"):
            return self("actor_system")
        return name

    def duty_name(self, name: str) -> str:
        """A recurring duty's label from the config (its code only if it is no longer configured)."""
        duty = next((d for d in duties_of(self.company) if d.name == name), None)
        return label_text(duty.label, self.locale) if duty is not None else name

    def state_of(self, definition: CaseTypeDef | None, state: str | None) -> str:
        """A state's label in the definition the case was opened under."""
        if state is None:
            return self("none")
        if definition is None or state not in definition.states:
            return state
        return label_text(definition.states[state].label, self.locale)

    def trigger(self, definition: CaseTypeDef | None, trigger: str) -> str:
        """A trigger's label: the case type's own, else the engine's (open, acknowledge...)."""
        if definition is not None and any(t.trigger == trigger for t in definition.transitions):
            return definition.trigger_label(trigger, self.locale)
        key = f"trigger_{trigger}"
        return self(key) if self.has(key) else trigger

    def count(self, value: int, capped: bool = False) -> str:
        """A whole number in the locale's grouping; ``capped``: counted up to it and more exist ("1 000+")."""
        return self.number(value, 0) + ("+" if capped else "")

    def remaining(self, business_minutes: float | None) -> str:
        if business_minutes is None:
            return self("none")
        if business_minutes < 0:
            return self("overdue_by", value=self.hours(-business_minutes))
        return self("left", value=self.hours(business_minutes))


_BADGE = Markup('<span class="badge status-'), Markup('">'), Markup("</span>")
_LINK = Markup('<a class="case-link" href="'), Markup('">'), Markup("</a>")


def badge(t: DashboardLabels, status: str) -> Markup:
    """A status word in its colour (the pages' small pieces are functions, not Jinja macros: the
    board and the queue call them for each row, and a macro call costs ten times more). Markup
    plus text escapes the text; ``Markup.format`` cost a fifth of the queue's rendering."""
    return _BADGE[0] + status + _BADGE[1] + t("status_" + status) + _BADGE[2]


def case_link(t: DashboardLabels, link: Callable[..., str], case_id: int) -> Markup:
    """A case's number linking to its page."""
    return _LINK[0] + link(f"/dashboard/cases/{case_id}") + _LINK[1] + t("case_no", id=case_id) + _LINK[2]


def board_row(t: DashboardLabels, link: Callable[..., str], row: OpenRow) -> Markup:
    """One row of the board's open-case list, as ``board.html.j2`` wrote it inline: the board
    and the queue render a hundred or more rows, and a row of Jinja expressions (each escaped
    and called through the template context) was most of their rendering time."""
    person = f'<div class="sub">{escape(t.person(row.person))}</div>' if row.person else ""
    return Markup(
        f'          <tr class="row-{escape(row.status)}" data-case="{row.case_id}">\n'
        f'            <td>{case_link(t, link, row.case_id)}<div class="sub">{escape(t.case_type(row.case_type))}'
        "</div></td>\n"
        f"            <td>{escape(t.state(row.case_type, row.state))}{person}</td>\n"
        f"            <td>{escape(t.moment(row.deadline_at))}</td>\n"
        f'            <td class="num">{escape(t.remaining(row.business_left))}</td>\n'
        f"            <td>{badge(t, row.status)}</td>\n"
        "          </tr>"
    )


def queue_row(t: DashboardLabels, link: Callable[..., str], item: QueueRow) -> Markup:
    """One row of the queue (``queue_rows.html.j2``), written here for the reason of `board_row`."""
    row = item.row
    if item.mine:
        holder = escape(t("queue_mine"))
    elif row.person:
        holder = escape(t.person(row.person))
    else:
        holder = escape(t("queue_free")) + " · " + escape(t.department(row.department or ""))
    order = f'<div class="sub">{escape(item.order)}</div>' if item.order else ""
    key = f'<div class="sub"><code>{escape(item.external_key)}</code></div>' if item.external_key else ""
    return Markup(
        f'    <tr class="row-{escape(row.status)}" data-case="{row.case_id}">\n'
        f'      <td>{case_link(t, link, row.case_id)}<div class="sub">{escape(t.case_type(row.case_type))}</div></td>\n'
        f'      <td>{escape(t.state(row.case_type, row.state))}<div class="sub">{holder}</div></td>\n'
        f'      <td>{escape(item.customer or "")}{order}{key}</td>\n'
        f"      <td>{escape(t.moment(row.deadline_at))}</td>\n"
        f'      <td class="num">{escape(t.remaining(row.business_left))}</td>\n'
        f"      <td>{badge(t, row.status)}</td>\n"
        "    </tr>"
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([TEMPLATES, TEMPLATES.parent / "workplace"]),  # the workplace's pages too
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(badge=badge, case_link=case_link, board_row=board_row, queue_row=queue_row)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
