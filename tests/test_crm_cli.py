"""``slaflow inbox list`` and ``slaflow inbox replay``: a webhook whose processing failed is kept
as failed; after the config is fixed, a replay opens its case."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.testing import serving, write_config
from core.clock import SimulatedClock
from crm import samples
from slaflow.commands.crm import inbox_app

runner = CliRunner()


def test_it_lists_a_failed_webhook_and_a_replay_with_the_fixed_config_opens_its_case(
    db_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    # The ERP integration is not in sales, so it may not open rush deliveries: processing fails.
    broken_config = write_config(broken, sources={"generic": {"secret": {"env": "SLAFLOW_GENERIC_SECRET"},
                                                              "memberships": ["warehouse/storekeeper"]}},
                                 rules=[r for r in _example_rules() if r["source"] == "generic"])
    body, headers = samples.generic(
        {"entity": "order", "entity_id": "A-9", "stage": "rush_requested",
         "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "new customer"}},
        secret=samples.SAMPLE_ENV["SLAFLOW_GENERIC_SECRET"], timestamp=int(clock.now().timestamp()))
    with serving(db_url, broken_config, clock, samples.SAMPLE_ENV) as client:
        inbox_id = client.post("/webhooks/generic", content=body, headers=headers).json()["id"]
        assert client.app.state.slaflow.pipeline.wait_idle(10)  # type: ignore[attr-defined]
    options = ["--database-url", db_url]
    listed = runner.invoke(inbox_app, ["list", "--status", "failed", *options, "--config", str(broken_config)])
    assert listed.exit_code == 0, listed.output
    assert f"{inbox_id}" in listed.output and "NotPermitted" in listed.output
    fixed = write_config(tmp_path)
    replayed = runner.invoke(inbox_app, ["replay", "--failed", *options, "--config", str(fixed)])
    assert replayed.exit_code == 0, replayed.output
    assert f"inbox event {inbox_id}: processed — erp-rush-delivery: opened case 1" in replayed.output
    assert 'replayed 1: {"processed": 1}' in replayed.output
    again = runner.invoke(inbox_app, ["replay", str(inbox_id), *options, "--config", str(fixed)])
    assert "erp-rush-delivery: exists case 1" in again.output


def test_it_asks_what_to_replay(db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(inbox_app, ["replay", "--database-url", db_url, "--config", str(write_config(tmp_path))])
    assert result.exit_code != 0 and "name inbox event ids, or --failed, or --unmatched" in str(result.exception)


def _example_rules() -> list[dict[str, object]]:
    from api.testing import example_config

    return list(example_config()["crm"]["rules"])
