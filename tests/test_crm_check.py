"""``slaflow crm check`` against the fake CRM: each account's webhook secrets and API access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from api.testing import dump_yaml, example_config
from crm import samples
from slaflow.cli import app
from tests.crm_fake import FakeCrm, fake_crm  # noqa: F401 (fixture)
from tests.test_crm_enrichment import ENVIRON


def test_it_reports_each_account_ready_or_what_is_missing(
    db_url: str, tmp_path: Path, fake_crm: FakeCrm, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    raw: dict[str, Any] = example_config()
    sources = raw["crm"]["sources"]
    sources["bitrix24"]["api"] = {"url": f"{fake_crm.url}/rest/1", "token": {"env": "B24_API"}}
    sources["hubspot"]["api"] = {"url": fake_crm.url, "token": {"env": "HS_API"}}
    sources["amocrm"]["api"] = {"url": fake_crm.url, "token": {"env": "AMO_API"}}
    sources["pipedrive"]["api"] = {"url": fake_crm.url, "token": {"env": "PD_API_WRONG"}}
    sources["zoho"] = {"token": {"env": "ZOHO_TOKEN"}, "channel_ids": ["1000000068002"],
                       "api": {"url": fake_crm.url, "token": {"env": "ZOHO_REFRESH"}, "client_id": "1000.CLIENTID",
                               "client_secret": {"env": "ZOHO_CLIENT_SECRET"},
                               "token_url": f"{fake_crm.url}/oauth/v2/token"}}
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw), encoding="utf-8")
    environ = {**samples.SAMPLE_ENV, **ENVIRON, "PD_API_WRONG": "nope"}
    environ.pop("SLAFLOW_GENERIC_SECRET")
    for name in (*samples.SAMPLE_ENV, "ZOHO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("slaflow.commands.crm.console", Console(width=400))
    result = CliRunner().invoke(app, ["crm", "check", "--database-url", db_url, "--config", str(config)])
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.startswith("│")}
    assert lines, (result.output, result.exception)
    assert "ok: crm.deal.fields: 3 fields" in lines["bitrix24"]
    assert "ok: crm/v3/objects/deals readable" in lines["hubspot"]
    assert "ok: account sever" in lines["amocrm"]
    assert "error: pipedrive GET users/me: HTTP 401" in lines["pipedrive"]
    assert "ok: org Север" in lines["zoho"] and "token: environment variable ZOHO_TOKEN" in lines["zoho"]
    assert "secret: environment variable SLAFLOW_GENERIC_SECRET" in lines["generic"]
    assert result.exit_code != 0
    assert str(result.exception) == "3 account(s) not ready: pipedrive/default, generic/default, zoho/default"
    assert "nope" not in result.output and ENVIRON["B24_API"] not in result.output
