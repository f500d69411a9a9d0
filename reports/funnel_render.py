"""The lead funnel in every report format: rich tables for the terminal, rows for CSV and XLSX
(codes and plain numbers), and the HTML section (``templates/funnel.html.j2``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from reports.labels import Labels
from reports.leads import FunnelRow, LeadFunnel

COUNTS = ("received", "taken", "qualified", "reservation_paid", "non_target", "processed", "disputed")
SLA = ("first_response_met", "first_response_breached", "qualification_met", "qualification_breached")

FUNNEL_HEADER = ["granularity", "period", "start", *COUNTS, *SLA, "qualified_share", "first_response_compliance"]
GROUPS_HEADER = ["dimension", "value", "received", "qualified", "reservation_paid", "non_target"]


def funnel_rows(funnel: LeadFunnel) -> list[dict[str, Any]]:
    """Weeks then months, one row each (``granularity`` tells them apart)."""
    data = funnel.to_dict()
    return [{"granularity": kind, **row} for kind, key in (("week", "weeks"), ("month", "months")) for row in data[key]]


def group_rows(funnel: LeadFunnel) -> list[dict[str, Any]]:
    return list(funnel.to_dict()["groups"])


def funnel_table(funnel: LeadFunnel, t: Labels) -> Table:
    table = Table(title=t("lead_funnel"))
    table.add_column(t("period"), justify="left", no_wrap=True, min_width=8)
    for key in (*COUNTS, "first_response_compliance"):
        table.add_column(t(f"funnel_{key}"), justify="right")
    rows: list[FunnelRow] = [*funnel.weeks, *funnel.months]
    for row in rows:
        table.add_row(
            row.period,
            *(str(getattr(row, key)) for key in COUNTS),
            t.percent(row.first_response_compliance),
            end_section=row is (funnel.weeks[-1] if funnel.weeks else None),
        )
    return table


def groups_table(funnel: LeadFunnel, t: Labels) -> Table:
    table = Table(title=t("lead_groups"))
    for key in ("dimension", "value", "received", "qualified", "reservation_paid", "non_target"):
        table.add_column(t(f"funnel_{key}"), justify="left" if key in ("dimension", "value") else "right")
    for group in funnel.groups:
        table.add_row(
            t(f"funnel_{group.dimension}"),
            group.value or t("none"),
            str(group.received),
            str(group.qualified),
            str(group.reservation_paid),
            str(group.non_target),
        )
    return table
