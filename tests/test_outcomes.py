"""Case types declare the outcome metrics reports count (``outcomes:``): a company that renames a
lead dispute's states in its YAML, and its declaration with them, gets the same report figures;
a declaration naming a state or trigger the type does not have is refused when the company loads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ConfigError
from core.yaml_loader import read_yaml
from org.chart import Company
from reports.outcomes import lead_figures
from reports.report import build_report
from runtime.company import company_from_mapping
from runtime.settings import EXAMPLE_COMPANY
from state_machines.schema import CaseTypeDef
from storage.db import make_engine, session_factory
from tests.test_reports import NOW, SCOPE, SINCE, UNTIL, build_dataset

RENAMED = """
label: {en: Lead quality dispute}
requester: sales
performer: marketing
initial: review
open_requires: [lead_id, reason]
target: 24h
states:
  review: {label: Marketing review, department: marketing, role: marketer, target: 8h}
  arbitration: {label: Arbitration, department: commercial, role: head, target: 16h}
  non_target: {label: Lead is non-target, terminal: true}
  stays_qualified: {label: Lead stays qualified, terminal: true}
  withdrawn: {label: Withdrawn, terminal: true}
transitions:
  - {trigger: accept, source: review, dest: non_target, allowed: [marketing]}
  - {trigger: reject, source: review, dest: arbitration, allowed: [marketing], requires: [justification]}
  - {trigger: rule_for_sales, source: arbitration, dest: non_target, allowed: [commercial/head], requires: [decision]}
  - {trigger: rule_for_marketing, source: arbitration, dest: stays_qualified, allowed: [commercial/head],
     requires: [decision]}
  - {trigger: withdraw, source: [review, arbitration], dest: withdrawn, allowed: [sales]}
outcomes:
  accepted: {label: {ru: Принято, en: Accepted, pl: Przyjęte}, states: [non_target]}
  accepted_by_marketing: {label: {en: By marketing}, states: [non_target], triggers: [accept]}
  accepted_on_arbitration: {label: {en: On arbitration}, states: [non_target], triggers: [rule_for_sales]}
  kept: {label: {en: Kept}, states: [stays_qualified]}
  withdrawn: {label: {en: Withdrawn}, states: [withdrawn]}
"""


def _company_with(lead_dispute: dict[str, Any]) -> Company:
    raw = read_yaml(EXAMPLE_COMPANY)
    raw["case_types"] = {**(raw.get("case_types") or {}), "lead_dispute": lead_dispute}
    return company_from_mapping(raw, source=str(EXAMPLE_COMPANY))


def _sessions(tmp_path: Path, sqlite_template: Path, name: str) -> sessionmaker[Session]:
    path = tmp_path / f"{name}.db"
    shutil.copy(sqlite_template, path)
    return session_factory(make_engine(f"sqlite:///{path}"))


def test_renaming_a_lead_dispute_state_with_its_declaration_keeps_the_report_figures(
    company: Company, tmp_path: Path, sqlite_template: Path
) -> None:
    renamed = _company_with(yaml.safe_load(RENAMED))
    assert "accepted" not in renamed.case_type("lead_dispute").states
    figures = {}
    for name, chosen in (("builtin", company), ("renamed", renamed)):
        sessions = _sessions(tmp_path, sqlite_template, name)
        build_dataset(sessions, chosen)
        with sessions() as session:
            report = build_report(session, chosen, since=SINCE, until=UNTIL, now=NOW)
            figures[name] = (lead_figures(session, chosen, SCOPE), report.leads, report.departments)
        sessions.kw["bind"].dispose()
    leads = figures["builtin"][0]
    # The figures test_reports checks by hand: two accepted (one each way), one kept, one open.
    assert (leads.disputes, leads.accepted, leads.accepted_by_marketing, leads.accepted_on_arbitration,
            leads.kept, leads.non_target_leads) == (4, 2, 1, 1, 1, 2)
    assert figures["renamed"] == figures["builtin"]


def test_an_outcome_naming_an_unknown_state_is_refused_with_its_path() -> None:
    body = yaml.safe_load(RENAMED)
    body["outcomes"]["accepted"]["states"] = ["accepted"]  # the state's old name
    with pytest.raises(ConfigError) as refused:
        _company_with(body)
    assert "case_types.lead_dispute: outcomes.accepted.states: 'accepted' is not a state" in str(refused.value)


def test_an_outcome_naming_an_unknown_trigger_is_refused_with_its_path() -> None:
    body = yaml.safe_load(RENAMED)
    body["outcomes"]["accepted_by_marketing"]["triggers"] = ["agree"]
    with pytest.raises(ConfigError, match=r"outcomes\.accepted_by_marketing\.triggers: 'agree' is not a trigger"):
        _company_with(body)


def test_a_report_asking_for_an_undeclared_outcome_is_a_config_error_not_a_zero(
    company: Company, tmp_path: Path, sqlite_template: Path
) -> None:
    body = yaml.safe_load(RENAMED)
    del body["outcomes"]
    undeclared = _company_with(body)
    sessions = _sessions(tmp_path, sqlite_template, "undeclared")
    with sessions() as session, pytest.raises(ConfigError, match="declares no outcome 'accepted'"):
        lead_figures(session, undeclared, SCOPE)
    sessions.kw["bind"].dispose()


def test_outcomes_are_reporting_only_and_do_not_change_the_stored_definition() -> None:
    body = yaml.safe_load(RENAMED)
    declared = CaseTypeDef.model_validate({"name": "lead_dispute", **body})
    del body["outcomes"]
    without = CaseTypeDef.model_validate({"name": "lead_dispute", **body})
    assert declared.fingerprint == without.fingerprint
    assert declared.outcome("kept").states == ["stays_qualified"] and not without.outcomes
