"""Charts of the HTML report, drawn by pygal as inline SVG: no JavaScript, nothing fetched, so the
file works offline and as an e-mail attachment."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from reports._pygal import Style, pygal
from reports.labels import Labels
from reports.report import Report

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="system-ui, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
    colors=("#2f6fb0", "#d0453c", "#e3a33b", "#5a9e5a", "#8a6bbf", "#4fa3a5", "#b0708f", "#777777", "#c7b24a"),
    title_font_size=15,
    legend_font_size=12,
    label_font_size=11,
)


def _config(title: str, **options: Any) -> dict[str, Any]:
    return {
        "title": title,
        "style": STYLE,
        "js": [],  # pygal's tooltips load a script from the web; the report must not
        "disable_xml_declaration": True,
        "width": 760,
        "height": 340,
        "legend_at_bottom": True,
        "print_values": False,
        "x_label_rotation": 20,
        **options,
    }


def _svg(chart: Any) -> Markup:
    return Markup(chart.render(is_unicode=True))


def compliance_chart(report: Report, t: Labels) -> Markup:
    chart = pygal.Bar(**_config(t("chart_compliance"), range=(0, 100), show_legend=False))
    chart.x_labels = [t.department(row.department) for row in report.departments]
    chart.add(
        t("compliance"),
        [None if row.compliance is None else round(row.compliance * 100, 1) for row in report.departments],
    )
    return _svg(chart)


def time_chart(report: Report, t: Labels) -> Markup:
    chart = pygal.Bar(**_config(t("chart_time")))
    chart.x_labels = [t.department(row.department) for row in report.departments]
    for key in ("median", "p90"):
        values = [getattr(row, f"{key}_minutes") for row in report.departments]
        chart.add(t(key), [None if value is None else round(value / 60, 2) for value in values])
    return _svg(chart)


def causes_chart(report: Report, t: Labels) -> Markup:
    chart = pygal.StackedBar(**_config(t("chart_causes")))
    rows = report.departments
    chart.x_labels = [t.department(row.department) for row in rows]
    chart.add(t("own"), [row.own_breaches for row in rows])
    chart.add(t("waiting"), [round(row.waiting_breaches, 2) for row in rows])
    chart.add(t("own_case_time"), [round(row.case_breaches - row.waiting_breaches, 2) for row in rows])
    return _svg(chart)


def ledger_chart(report: Report, t: Labels) -> Markup:
    chart = pygal.HorizontalStackedBar(**_config(t("chart_ledger"), x_label_rotation=0))
    requesters = sorted({cell.requester for cell in report.ledger})
    chart.x_labels = [t.department(code) for code in requesters]
    for department in sorted({cell.department for cell in report.ledger}):
        hours = {cell.requester: cell.minutes / 60 for cell in report.ledger if cell.department == department}
        chart.add(t.department(department), [round(hours[r], 1) if r in hours else None for r in requesters])
    return _svg(chart)


def trend_chart(report: Report, t: Labels) -> Markup:
    chart = pygal.Bar(**_config(t("chart_trend")))
    chart.x_labels = [week.week for week in report.trend]
    chart.add(t("steps"), [week.steps for week in report.trend])
    chart.add(t("breached"), [week.breached for week in report.trend])
    return _svg(chart)


def trend_compliance_chart(report: Report, t: Labels) -> Markup:
    chart = pygal.Line(**_config(t("chart_trend_compliance"), range=(0, 100), show_legend=False))
    chart.x_labels = [week.week for week in report.trend]
    chart.add(
        t("compliance"), [None if week.compliance is None else round(week.compliance * 100, 1) for week in report.trend]
    )
    return _svg(chart)


def all_charts(report: Report, t: Labels) -> dict[str, Markup]:
    """Every chart the template shows, by name (empty when there is nothing to draw)."""
    if not report.departments:
        return {}
    charts = {
        "compliance": compliance_chart(report, t),
        "time": time_chart(report, t),
        "causes": causes_chart(report, t),
        "trend": trend_chart(report, t),
        "trend_compliance": trend_compliance_chart(report, t),
    }
    if report.ledger:
        charts["ledger"] = ledger_chart(report, t)
    return charts
