"""The ``crm:`` config section: secrets only by reference, rules that must make sense against the
company, and how rules match normalised events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.testing import example_config
from core.errors import ConfigError
from crm.config import CrmConfig, SecretError, SecretRef, check_against, crm_config
from crm.events import CrmEvent
from crm.rules import plan
from org.chart import Company
from runtime.company import company_from_mapping


def with_crm(**crm: Any) -> Company:
    return company_from_mapping(example_config(**crm), source="company.yaml")


def test_it_refuses_a_secret_written_into_the_yaml() -> None:
    config = example_config()
    config["crm"]["sources"]["generic"]["secret"] = "erp-hmac-secret-5e8f"
    with pytest.raises(ConfigError, match=r"crm\.sources\.generic\.secret.*never written in the config"):
        company_from_mapping(config, source="company.yaml")


def test_it_reads_a_secret_from_the_env_var_else_from_the_file_named_by_name_file(tmp_path: Path) -> None:
    ref = SecretRef(env="HUBSPOT_SECRET")
    secret_file = tmp_path / "hubspot"
    secret_file.write_text("from-file\n", encoding="utf-8")
    assert ref.resolve({"HUBSPOT_SECRET": "from-env", "HUBSPOT_SECRET_FILE": str(secret_file)}) == "from-env"
    assert ref.resolve({"HUBSPOT_SECRET_FILE": str(secret_file)}) == "from-file"
    assert SecretRef(file=secret_file).resolve({}) == "from-file"


def test_it_reports_every_missing_secret_at_start_up_by_name_never_by_value() -> None:
    crm = crm_config(with_crm())
    with pytest.raises(SecretError) as missing:
        crm.resolve_secrets({"SLAFLOW_GENERIC_SECRET": "erp-hmac-secret-5e8f"})
    message = str(missing.value)
    assert "crm.sources.hubspot.app_secret: environment variable SLAFLOW_HUBSPOT_APP_SECRET" in message
    assert "crm.sources.pipedrive.password" in message and "erp-hmac-secret-5e8f" not in message


def test_it_does_not_ask_for_secrets_of_disabled_sources() -> None:
    sources = {"generic": {"secret": {"env": "GENERIC"}}, "hubspot": {"enabled": False, "app_secret": {"env": "HS"}}}
    crm = CrmConfig.model_validate({"sources": sources})
    assert crm.resolve_secrets({"GENERIC": "s"}) == {"generic": {"default": {"secret": "s"}}}


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"source": "generic", "open": "return", "fire": "approve", "case_type": "return"}, "exactly one of open"),
        ({"source": "generic", "fire": "approve"}, "needs case_type"),
        ({"source": "freshsales", "open": "return"}, "source"),
    ],
    ids=["open-and-fire", "fire-without-type", "unknown-source"],
)
def test_it_refuses_rules_that_cannot_be_carried_out(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        with_crm(rules=[rule])


def test_it_cross_checks_rules_and_memberships_against_the_company() -> None:
    company = with_crm(rules=[
        {"source": "generic", "open": "no_such_type"},
        {"source": "generic", "fire": "teleport", "case_type": "return"},
    ])
    crm_config(company).sources.generic.__dict__["memberships"] = ["warehouse/pilot"]  # frozen model, test only
    problems = check_against(crm_config(company), company)
    assert "crm.rules[0]: unknown case type 'no_such_type'" in problems
    assert any(p.startswith("crm.rules[1].fire: 'return' has no trigger 'teleport'") for p in problems)
    assert "crm.sources.generic.memberships: nobody in 'warehouse' has the role 'pilot'" in problems


def test_it_accepts_the_example_company_crm_section(company: Company) -> None:
    assert check_against(crm_config(company), company) == []
    assert {r.source for r in crm_config(company).rules} == {"amocrm", "pipedrive", "hubspot", "bitrix24", "generic"}


def event(**overrides: Any) -> CrmEvent:
    base: dict[str, Any] = {"source": "amocrm", "event_id": "e", "entity_kind": "lead", "entity_id": "25399013",
                            "event_type": "stage_changed", "vendor_event": "leads/status", "old_stage": "43315795",
                            "new_stage": "43315792", "pipeline": "4740529",
                            "fields": {"Компания": "ООО Ромашка", "Товары": "40 паллет"}}
    return CrmEvent(**{**base, **overrides})


def test_it_plans_an_opening_with_case_data_mapped_from_crm_fields(company: Company) -> None:
    [action] = plan(crm_config(company).rules, event())
    assert (action.rule.name, action.action, action.case_type) == ("amocrm-reserve-stock", "open", "reservation")
    assert action.data == {"customer": "ООО Ромашка", "deal": "25399013", "items": "40 паллет"}
    assert action.external_key == "lead:25399013:reservation"


def test_it_matches_stage_pipeline_and_field_conditions_as_text(company: Company) -> None:
    rules = crm_config(company).rules
    assert plan(rules, event(pipeline="999")) == []
    assert plan(rules, event(new_stage="1")) == []
    [lost] = plan(rules, event(new_stage="143", pipeline="1"))
    assert (lost.action, lost.trigger, lost.data) == (
        "fire", "cancel", {"reason": "сделка закрыта в amoCRM как нереализованная"})
    hubspot = event(source="hubspot", entity_kind="contact", event_type="updated", new_stage=None,
                    fields={"propertyName": "hs_lead_status", "propertyValue": "UNQUALIFIED"})
    [dispute] = plan(rules, hubspot)
    assert dispute.data == {"lead_id": "25399013", "reason": "marked UNQUALIFIED in HubSpot"}
    assert plan(rules, hubspot.model_copy(update={"fields": {"propertyName": "hs_lead_status",
                                                              "propertyValue": "OPEN"}})) == []


def test_it_leaves_an_absent_crm_field_out_so_the_engine_names_it_as_missing(company: Company) -> None:
    [action] = plan(crm_config(company).rules, event(fields={"Компания": "ООО Ромашка"}))
    assert "items" not in action.data and action.data["customer"] == "ООО Ромашка"


def test_it_checks_accounts_api_and_write_back_against_what_each_crm_supports() -> None:
    sources = dict(example_config()["crm"]["sources"])
    sources["bitrix24"] = {**sources["bitrix24"], "accounts": {"app": {"application_token": {"env": "B24_APP"}}}}
    sources["salesforce"] = {"token": {"env": "S"}, "organization_id": "00D5g000004XyZaEAK",
                             "api": {"url": "https://sever.my.salesforce.com", "token": {"env": "S_API"}}}
    rules = [{"source": "bitrix24", "entity": "deal", "open": "rush_delivery",
              "write_back": {"fields": {"UF_CRM_SLA": "{{ status ", "UF_CRM_DUE": "{{ due_date }}",
                                        "UF_CRM_OK": "{{ status }} {{ deadline }} {{ case.state_label }}"}}}]
    company = with_crm(sources=sources, rules=rules)
    assert list(crm_config(company).sources.bitrix24.all_accounts()) == ["default", "app"]  # type: ignore[union-attr]
    problems = check_against(crm_config(company), company)
    assert "crm.rules[0].write_back: crm.sources.bitrix24 has no api: (url and token) to write with" in problems
    assert any(p.startswith("crm.rules[0].write_back.fields.UF_CRM_SLA: not a valid template") for p in problems)
    assert "crm.rules[0].write_back.fields.UF_CRM_DUE: not a valid template: UndefinedError: 'due_date' is undefined" \
        in problems
    assert not any("UF_CRM_OK" in p for p in problems)
    assert any(p.startswith("crm.sources.salesforce: api is not supported for salesforce") for p in problems)


@pytest.mark.parametrize(
    ("source", "problem"),
    [({"memberships": []}, "give application_token"),
     ({"application_token": {"env": "T"}, "accounts": {"default": {"application_token": {"env": "U"}}}},
      "clashes"),
     ({"application_token": {"env": "T"}, "accounts": {"Bad Name": {"application_token": {"env": "U"}}}},
      "Bad Name")],
    ids=["no-account", "default-twice", "bad-name"],
)
def test_it_refuses_a_source_without_a_usable_account(source: dict[str, Any], problem: str) -> None:
    sources = dict(example_config()["crm"]["sources"])
    sources["bitrix24"] = source
    with pytest.raises(ConfigError, match=problem):
        with_crm(sources=sources)
