"""The dashboard's charts, drawn by pygal (as the HTML report is) into inline SVG: nothing is
fetched by the browser, so the pages work on a machine without internet access."""

from __future__ import annotations

from functools import lru_cache
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
    return _bar(
        t("chart_compliance"),
        t("compliance"),
        tuple(t.department(row.department) for row in figures),
        tuple(_percent(row.compliance) for row in figures),
    )


def trend_chart(trend: list[WeekTrend], t: DashboardLabels) -> Markup:
    return _line(
        t("chart_trend"),
        t("compliance"),
        tuple(week.week for week in trend),
        tuple(_percent(week.compliance) for week in trend),
    )


@lru_cache(maxsize=256)
def _bar(title: str, series: str, labels: tuple[str, ...], values: tuple[float | None, ...]) -> Markup:
    """Drawn once per distinct chart (its texts and values): pygal took ~10 ms a board, and the
    figures change far less often than the board is read."""
    chart = pygal.Bar(**_config(title))
    chart.x_labels = list(labels)
    chart.add(series, list(values))
    return Markup(chart.render(is_unicode=True))


@lru_cache(maxsize=256)
def _line(title: str, series: str, labels: tuple[str, ...], values: tuple[float | None, ...]) -> Markup:
    chart = pygal.Line(**_config(title, x_label_rotation=0))
    chart.x_labels = list(labels)
    chart.add(series, list(values))
    return Markup(chart.render(is_unicode=True))
