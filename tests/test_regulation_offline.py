"""The regulation HTML is self-contained: every diagram is inline SVG in the reader's language,
with no script and nothing loaded from the network, so it reads offline and prints."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

from org.chart import Company
from regulation import write_regulation


def test_the_html_draws_each_case_type_as_inline_svg_with_labels_not_ids(company: Company, tmp_path: Path) -> None:
    paths = write_regulation(company, tmp_path, "ru")
    html = next(p for p in paths if p.suffix == ".html").read_text(encoding="utf-8")
    assert "<script" not in html and "cdn" not in html.lower() and 'class="mermaid"' not in html
    assert re.findall(r"https?://[^\s\"']+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL)
    shown = [name for name in company.case_types if name != "duty"]  # duties have their own section
    assert len(svgs) == len(shown)
    texts: dict[str, list[str | None]] = {}
    for svg, name in zip(svgs, shown, strict=True):
        root = ElementTree.fromstring(svg)  # well-formed SVG
        texts[name] = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    inspection = company.case_type("return").states["inspection"]
    assert inspection.label["ru"] in texts["return"]  # type: ignore[index]
    assert "Склад" in texts["return"] and "warehouse" not in texts["return"]
    assert "8h" in texts["return"]
    boxes = sum(1 for _ in ElementTree.fromstring(svgs[0]).iter("{http://www.w3.org/2000/svg}rect"))
    assert boxes == len(company.case_type(shown[0]).states)
