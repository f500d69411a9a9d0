"""Starting small: a starter company from `slaflow init --company`, built-in case types a company
chooses and adapts, and `config validate` reporting every problem serve/worker/engine would find."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from api.testing import dump_yaml, example_mapping
from core.errors import ConfigError
from runtime.company import company_from_mapping, load_company
from runtime.settings import EXAMPLE_COMPANY
from slaflow.cli import main
from slaflow.validate import validate_file

NOW = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def example() -> dict[str, object]:
    loaded: dict[str, object] = example_mapping()
    return loaded


def test_init_writes_a_two_department_starter_that_validates_and_is_used_without_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLAFLOW_CONFIG", raising=False)
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'acme.db'}")
    code, out, err = run(["init", "--company", "Acme", "--departments", "sales,warehouse", "--no-wizard"], capsys)
    assert code == 0, err
    assert "wrote slaflow.yaml: 2 departments; built-in case types in use: return, reservation, picking_error" in out
    company = load_company(tmp_path / "slaflow.yaml")
    assert set(company.config.departments) == {"sales", "warehouse"}
    assert company.case_type("return").departments() == {"sales", "warehouse"}  # logistics etc. handed over
    assert "rush_delivery" not in company.case_types
    assert validate_file(tmp_path / "slaflow.yaml", NOW)[1] == []
    # Without --config the commands now find ./slaflow.yaml (never the example company).
    code, out, err = run(["case", "open", "return", "--as", "sales_staff", "-d", "customer=X", "-d", "order=1",
                          "-d", "reason=broken", "--at", "2026-11-16T10:00+03:00"], capsys)
    assert code == 0, err
    assert "opened case 1 (return) in state inspection, owner warehouse" in out
    code, _, err = run(["init", "--company", "Acme", "--departments", "sales"], capsys)
    assert code == 2 and "slaflow.yaml exists already; pass --force" in err


def test_the_wizard_asks_for_the_company_when_told_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from slaflow.commands.setup import init

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLAFLOW_CONFIG", raising=False)
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    single = typer.Typer()
    single.command()(init)
    result = CliRunner().invoke(single, ["--wizard"], input="Вектор\nsales,warehouse,logistics\nru\nEurope/Moscow\n")
    assert result.exit_code == 0, result.output
    company = load_company(tmp_path / "slaflow.yaml")
    assert company.config.company.name == "Вектор" and company.locale == "ru"
    assert "rush_delivery" in company.case_types  # sales -> logistics is there now
    (tmp_path / "slaflow.yaml").unlink()
    skipped = CliRunner().invoke(single, ["--wizard"], input="\n")  # no name: only the database
    assert skipped.exit_code == 0 and "database ready" in skipped.output, skipped.output
    assert not (tmp_path / "slaflow.yaml").exists()


def test_a_company_chooses_built_in_types_and_adapts_targets_and_owners() -> None:
    raw = example_mapping()
    raw["builtin_case_types"] = {
        "return": {"departments": {"logistics": "warehouse"}, "target": "24h",
                   "states": {"inspection": {"target": "2h"}, "collection": {"role": "storekeeper"}}},
        "rush_delivery": None,
    }
    raw["crm"]["rules"] = []  # the example's rules open reservations, not chosen here
    raw["duties"] = []
    company = company_from_mapping(raw)
    chosen = set(company.case_types) - set(company.config.case_types)
    assert chosen == {"return", "rush_delivery", "duty"}
    adapted = company.case_type("return")
    assert adapted.target == 24 * 60 and adapted.states["inspection"].target == 120
    assert adapted.states["collection"].department == "warehouse"
    assert all(not rule.startswith("logistics") for t in adapted.transitions for rule in t.allowed)
    assert adapted.states["refund"].target == 8 * 60  # what was not overridden stays as built in


def test_only_chosen_types_are_checked_against_the_org_chart() -> None:
    raw = example_mapping()
    del raw["departments"]["marketing"]
    raw["people"]["sidorov"].pop("manager", None)
    raw.pop("leads", None)  # the lead records name marketing too; only the case types are checked here
    with pytest.raises(ConfigError, match="built-in case type 'lead_dispute': department 'marketing'"):
        company_from_mapping(raw)
    raw["builtin_case_types"] = ["return", "replacement", "rush_delivery", "reservation", "picking_error"]
    raw["crm"]["rules"] = [rule for rule in raw["crm"]["rules"] if rule.get("open") != "lead_dispute"]
    assert "lead_dispute" not in company_from_mapping(raw).case_types


def test_adapting_a_built_in_names_what_is_wrong() -> None:
    raw = example_mapping()
    raw["builtin_case_types"] = {"retrun": None, "return": {"departments": {"shipping": "warehouse"},
                                                            "states": {"nowhere": {"target": "1h"}}}}
    with pytest.raises(ConfigError) as raised:
        company_from_mapping(raw, source="c.yaml")
    message = str(raised.value)
    assert ("c.yaml: builtin_case_types.retrun: not a built-in case type; "
            "built-in types: closing_documents, customer_handover") in message
    assert "builtin_case_types.return.departments.shipping: the built-in type names no department 'shipping'" in message
    assert "builtin_case_types.return.states.nowhere: no such state" in message


def test_config_validate_reports_every_problem_serve_would_each_on_its_own_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = EXAMPLE_COMPANY.read_text(encoding="utf-8")
    text = text.replace("open: reservation", "open: rush_delivry", 1)
    text = text.replace("person: ivanov}", "person: ivanof}", 1)
    text = text.replace("notify: [requester, person:ivanov, person:petrova]",
                        "notify: [requester, person:ivanov, person:petrova]", 1)
    raw = yaml.safe_load(text)
    raw["people"]["orlov"]["manager"] = "popov"  # orlov -> popov -> smirnov -> orlov
    raw["case_types"]["price_approval"]["escalation"] = {"levels": [{"after": "1h", "notify": ["person:ghost"]}]}
    raw["calendars"]["never"] = {"tz": "Europe/Moscow", "weekly_hours": {}}
    raw["departments"]["marketing"]["calendar"] = "never"
    path = tmp_path / "company.yaml"
    path.write_text(dump_yaml(raw), encoding="utf-8")
    code, _, err = run(["config", "validate", str(path)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and all(line.startswith(f"error: {path}: ") for line in lines), err
    assert any("crm.rules[0]: unknown case type 'rush_delivry'" in line for line in lines), err
    assert any("'ivanof'" in line and "api_tokens" in line for line in lines), err
    assert any("the manager chain loops" in line for line in lines), err
    assert any("'person:ghost' names no person" in line for line in lines), err
    assert any("calendars.never: no working time between" in line for line in lines), err
    assert len(lines) >= 5


def test_a_duplicate_yaml_key_is_refused_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE_COMPANY.read_text(encoding="utf-8")
    popov = next(line for line in text.splitlines() if line.startswith("  popov:"))
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace(popov, popov + "\n" + popov.replace("popov@", "someone.else@"), 1), encoding="utf-8")
    code, _, err = run(["config", "validate", str(path)], capsys)
    assert code == 2 and "not valid YAML: duplicate key 'popov' (first given on line 53)" in err, err
    assert err.startswith(f"error: {path}:54:")


def test_the_example_company_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["config", "validate", str(EXAMPLE_COMPANY)], capsys)
    assert code == 0 and "OK — 10 departments" in out, err
