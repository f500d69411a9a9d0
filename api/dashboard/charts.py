"""The dashboard's charts, drawn by pygal (as the HTML report is) into inline SVG: nothing is
fetched by the browser, so the pages work on a machine without internet access."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from api.dashboard.text import DashboardLabels
from reports._pygal import Style, pygal
from reports.steps import DepartmentFigures
from reports.trend import WeekTrend

STYLE = Style(
    background="transparent",
    plot_background="white",
    font_family="system-ui, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#8a94a0",
    colors=("#2f6fb0",),
    opacity=".85",
    guide_stroke_color="#d5dae0",
    guide_stroke_dasharray="0",
    major_guide_stroke_color="#d5dae0",
    major_guide_stroke_dasharray="0",
    title_font_size=16,
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
)


def _config(title: str, **options: Any) -> dict[str, Any]:
    return {
        "title": title,
        "style": STYLE,
        "js": [],  # pygal's tooltip script comes from a CDN; the dashboard fetches nothing
        "disable_xml_declaration": True,
        "width": 640,
        "height": 340,
        "show_legend": False,
        "x_label_rotation": 20,
        "range": (0, 100),
        "print_values": True,
        "value_formatter": lambda value: f"{value:.0f}%",
        **options,
    }


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def compliance_chart(figures: list[DepartmentFigures], t: DashboardLabels) -> Markup:
    """Share of each department's finished steps that met the deadline."""
    chart = pygal.Bar(**_config(t("chart_compliance")))
    chart.x_labels = [t.department(row.department) for row in figures]
    chart.add(t("compliance"), [_percent(row.compliance) for row in figures])
    return Markup(chart.render(is_unicode=True))


def trend_chart(trend: list[WeekTrend], t: DashboardLabels) -> Markup:
    chart = pygal.Line(**_config(t("chart_trend"), x_label_rotation=0))
    chart.x_labels = [week.week for week in trend]
    chart.add(t("compliance"), [_percent(week.compliance) for week in trend])
    return Markup(chart.render(is_unicode=True))
