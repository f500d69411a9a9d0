"""Texts and number formats of a report in one locale: label texts from ``translations.yaml``,
names of departments, case types, states and people from the company config."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from org.chart import Company
from state_machines.values import label_text

TRANSLATIONS = Path(__file__).parent / "translations.yaml"
LOCALES: tuple[str, ...] = ("ru", "en", "pl")
FALLBACK = "en"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    """The translations file, checked once: every key has an en text."""
    raw: dict[str, dict[str, str]] = yaml.safe_load(TRANSLATIONS.read_text(encoding="utf-8"))
    missing = [key for key, texts in raw.items() if FALLBACK not in texts]
    if missing:
        raise ValueError(f"{TRANSLATIONS}: no {FALLBACK} text for {', '.join(missing)}")
    return raw


class Labels:
    """Everything a renderer needs to say something in ``locale``."""

    def __init__(self, company: Company, locale: str, tz: tzinfo) -> None:
        if locale not in LOCALES:
            raise ValueError(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")
        self.company = company
        self.locale = locale
        self.tz = tz

    def __call__(self, key: str, **values: Any) -> str:
        texts = catalog()[key]
        text = texts.get(self.locale) or texts[FALLBACK]
        return text.format(**values) if values else text

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return self("none")
        return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", self("_decimal"))

    def percent(self, share: float | None) -> str:
        if share is None:
            return self("none")
        return self("_percent", value=self.number(share * 100, 0))

    def hours(self, minutes: float | None) -> str:
        """Business minutes shown as business hours (one decimal)."""
        if minutes is None:
            return self("none")
        return self("_hours", value=self.number(minutes / 60, 1))

    def day(self, value: date) -> str:
        return value.strftime(self("_date"))

    def moment(self, value: datetime | None) -> str:
        return self("none") if value is None else value.astimezone(self.tz).strftime(self("_datetime"))

    def department(self, code: str) -> str:
        if code == "*":
            return self("total")
        dept = self.company.config.departments.get(code)
        return label_text(dept.name, self.locale) if dept else code

    def case_type(self, name: str) -> str:
        definition = self.company.case_types.get(name)
        return label_text(definition.label, self.locale) if definition else name

    def state(self, case_type: str, state: str) -> str:
        definition = self.company.case_types.get(case_type)
        if definition is None or state not in definition.states:
            return state
        return label_text(definition.states[state].label, self.locale)

    def person(self, code: str | None) -> str:
        if code is None:
            return self("none")
        person = self.company.config.people.get(code)
        return label_text(person.name, self.locale) if person else code
