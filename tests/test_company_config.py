"""The company configuration: the example loads; every kind of mistake names file, path, problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.testing import dump_yaml, example_mapping
from core.errors import ConfigError, UnknownCaseType, UnknownPerson
from org.chart import Company
from runtime.company import load_company


def test_the_example_company_has_the_departments_of_a_trading_company(company: Company) -> None:
    departments = set(company.config.departments)
    assert {
        "sales",
        "warehouse",
        "logistics",
        "accounting",
        "purchasing",
        "marketing",
        "quality",
        "customer_success",
        "commercial",
    } <= departments
    assert company.config.company.director == "orlov"
    assert company.department_name("warehouse", "ru") == "Склад"
    assert company.department_name("warehouse", "en") == "Warehouse"
    assert "price_approval" in company.case_types  # a company type added in YAML, without code


def test_it_resolves_people_to_their_departments_and_roles(company: Company) -> None:
    actor = company.actor("kuznetsova")
    assert ("sales", "head") in actor.memberships
    assert actor.may(["sales/head"]) and actor.may(["sales"])
    assert not actor.may(["warehouse"]) and not actor.may(["system"])
    assert company.actor("popov").may(["warehouse/storekeeper"])
    assert company.members("warehouse", "storekeeper") == ["popov", "volkova"]
    assert company.head_of("logistics") == "lebedev" and company.manager_of("lebedev") == "orlov"
    with pytest.raises(UnknownPerson, match="unknown person 'nobody'"):
        company.actor("nobody")


def test_it_names_the_known_types_for_an_unknown_one(company: Company) -> None:
    with pytest.raises(UnknownCaseType, match=r"unknown case type 'refund'; known types: closing_documents, "):
        company.case_type("refund")


def _write(tmp_path: Path, mutate: Any) -> Path:
    raw = example_mapping()
    mutate(raw)
    path = tmp_path / "company.yaml"
    path.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["departments"]["sales"].update(head="ghost"), "departments.sales.head: 'ghost' is not in people"),
        (
            lambda r: r["departments"]["sales"].update(calendar="mars"),
            "departments.sales.calendar: 'mars' is not in calendars",
        ),
        (lambda r: r["departments"]["commercial"].update(parent="sales"), "the parent chain loops back"),
        (lambda r: r["people"]["ivanov"].update(manager="ghost"), "people.ivanov.manager: 'ghost' is not in people"),
        (lambda r: r["people"]["ivanov"].update(email="not-an-address"), "people.ivanov.email"),
        (
            lambda r: r["departments"]["sales"].update(colour="red"),
            "departments.sales.colour: Extra inputs are not permitted",
        ),
        (lambda r: r["calendars"]["msk_office"].update(tz="Mars/Olympus"), "calendars.msk_office.tz"),
        (
            lambda r: r["case_types"]["price_approval"]["states"]["margin_check"].update(department="legal"),
            "case_types.price_approval: department 'legal' is not in departments",
        ),
        (
            lambda r: r["case_types"]["price_approval"]["states"]["margin_check"].update(role="auditor"),
            "case_types.price_approval.states.margin_check: nobody in 'accounting' has the role 'auditor'",
        ),
        (
            lambda r: r["case_types"]["price_approval"].update(initial="nowhere"),
            "case_types.price_approval: initial state 'nowhere' is not among the states",
        ),
        (
            lambda r: r["departments"]["quality"].update(members=[{"person": "nowak", "roles": ["tester"]}]),
            "built-in case type 'replacement'.states.diagnosis: nobody in 'quality' has the role 'inspector'",
        ),
        (
            lambda r: r["departments"]["warehouse"].update(members=[{"person": "popov", "roles": ["loader"]}]),
            "duties[2].role: nobody in 'warehouse' has the role 'storekeeper'",
        ),
    ],
)
def test_it_reports_a_broken_config_with_file_path_and_problem(tmp_path: Path, mutate: Any, expected: str) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as excinfo:
        load_company(path)
    message = str(excinfo.value)
    assert message.startswith(str(path))
    assert expected in message


def test_it_points_at_the_line_of_a_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("company:\n  name: x\n  locale: [ru\npeople: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+:\d+: not valid YAML"):
        load_company(path)


def test_it_says_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_company(tmp_path / "absent.yaml")


def test_it_rejects_a_top_level_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        load_company(path)


def test_a_company_type_with_a_built_in_name_replaces_the_built_in(tmp_path: Path) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        body = dict(raw["case_types"]["price_approval"])
        body.update(label="Our return", requester="sales", performer="accounting")
        raw["case_types"]["return"] = body

    company = load_company(_write(tmp_path, mutate))
    assert company.case_type("return").label == "Our return"
