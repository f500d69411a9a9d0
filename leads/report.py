"""The leads' part of the SLA report: which departments exchange leads, for the lead funnel
(`reports.report.build_report` takes them; reports sit below leads and do not read its config)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leads.config import leads_section

if TYPE_CHECKING:
    from org.chart import Company


def lead_departments(company: Company) -> tuple[str, str] | None:
    """The departments that exchange leads (sales, marketing); None: the company keeps no leads."""
    config = leads_section(company)
    return None if config is None else (config.sales, config.marketing)
