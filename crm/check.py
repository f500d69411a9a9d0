"""``slaflow crm check``: for every enabled source and account, are the webhook secrets there, and
does the CRM's API answer with the configured credentials? The set-up's last step (docs/crm.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.secret_ref import SecretError
from crm.api.http import CrmApiError
from crm.api.registry import ApiRegistry
from crm.config import crm_config

if TYPE_CHECKING:
    from org.chart import Company


@dataclass(frozen=True)
class AccountCheck:
    source: str
    account: str
    webhook: str
    """``ok``, or which secret is missing."""
    api: str
    """``not configured``, ``ok: <what the CRM said>`` or the error."""

    @property
    def ok(self) -> bool:
        return self.webhook == "ok" and not self.api.startswith("error")


def check_accounts(company: Company, environ: Mapping[str, str], registry: ApiRegistry) -> list[AccountCheck]:
    checks: list[AccountCheck] = []
    for source, config in crm_config(company).sources.enabled().items():
        for name, account in config.all_accounts().items():
            missing = []
            for field, ref in account.secret_refs().items():
                try:
                    ref.resolve(environ)
                except SecretError as exc:
                    missing.append(f"{field}: {exc}")
            webhook_missing = [m for m in missing if not m.startswith("api.")]
            api = "not configured"
            if account.api is not None:
                try:
                    client = registry.get(source, name)
                    api = f"ok: {client.ping()}" if client is not None else "not supported for this CRM"
                except CrmApiError as exc:
                    api = f"error: {exc}"
            checks.append(AccountCheck(source, name, "; ".join(webhook_missing) or "ok", api))
    return checks
