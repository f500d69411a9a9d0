"""Every term the company's rules use is defined in three to five sentences in ru, en and pl:
each built-in case type's terms and the example company's own, and the regulation shows them."""

from __future__ import annotations

import re

import pytest

from org.chart import Company
from regulation.render import render_regulation
from state_machines.builtin import BUILTIN_TYPES
from state_machines.parts import TermDef
from state_machines.values import label_text

LOCALES = ("ru", "en", "pl")
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-ZА-ЯЁŁŚŻŹĆŃÓ]|\s*$)")


def sentences(text: str) -> int:
    return len(SENTENCE_END.findall(text.strip()))


def _check(term: TermDef) -> None:
    assert isinstance(term.term, dict) and isinstance(term.definition, dict)
    for locale in LOCALES:
        assert term.term.get(locale), (term.term, locale)
        count = sentences(term.definition.get(locale, ""))
        assert 3 <= count <= 5, (label_text(term.term, "en"), locale, count)


def test_the_sentence_counter_counts_sentences() -> None:
    assert sentences("One. Two words here. Three!") == 3
    assert sentences("Лид — это обращение. Второе предложение. Третье.") == 3
    assert sentences("No end") == 0


@pytest.mark.parametrize("name", sorted(BUILTIN_TYPES))
def test_every_built_in_type_defines_its_terms_and_describes_itself(name: str) -> None:
    definition = BUILTIN_TYPES[name]
    assert definition.definitions, name
    for term in definition.definitions:
        _check(term)
    assert isinstance(definition.description, dict)
    assert all(definition.description.get(locale) for locale in LOCALES)


def test_the_example_companys_own_types_define_their_terms_too(company: Company) -> None:
    own = [company.case_types[name] for name in company.config.case_types]
    assert own
    for definition in own:
        assert definition.definitions, definition.name
        for term in definition.definitions:
            _check(term)


def test_the_example_company_defines_the_lead_terms(company: Company) -> None:
    terms = company.config.definitions
    assert len(terms) >= 4
    for term in terms:
        _check(term)
    english = {label_text(term.term, "en") for term in terms}
    assert {"Target (qualified) lead", "Non-target lead", "Lead taken into work", "Reservation paid"} <= english


@pytest.mark.parametrize("locale", LOCALES)
def test_the_regulation_shows_every_definition(company: Company, locale: str) -> None:
    rendered = render_regulation(company, locale)
    terms = [*company.config.definitions, *(t for ct in company.case_types.values() for t in ct.definitions)]
    for term in terms:
        text = label_text(term.definition, locale)
        assert text in rendered["md"], label_text(term.term, "en")
        assert label_text(term.term, locale) in rendered["html"]
    heading = {"ru": "Термины и определения", "en": "Terms and definitions", "pl": "Pojęcia i definicje"}[locale]
    assert f"## {heading}" in rendered["md"]
