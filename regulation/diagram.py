"""A case type's state diagram as inline SVG, so the regulation HTML reads offline and prints.

Layout by grandalf (a pure-Python Sugiyama layered layout; no Graphviz binary, no JavaScript,
no CDN); drawing is plain SVG: a box per state (label, owner, target), an arrow per move
labelled with its trigger. Terminal states are drawn with a double border.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout

from state_machines.schema import CaseTypeDef

FONT = 12
CHAR_W = 7.6
"""An upper estimate of a character's width at FONT px (Cyrillic included; bold titles +10%)."""
LINE_H = 16
PAD = 8
GAP = 30


class _View:
    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy: tuple[float, float] = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = list(points)


def state_svg(definition: CaseTypeDef, lines_of: Callable[[str], list[str]], edge_label: Callable[[str], str]) -> str:
    """SVG of the definition: ``lines_of(state)`` gives a state's text lines, ``edge_label(trigger)``
    a move's label (both in the reader's language)."""
    texts = {name: lines_of(name) for name in definition.states}
    vertices = {name: Vertex(name) for name in definition.states}
    for name, vertex in vertices.items():
        lines = texts[name]
        width = max(len(lines[0]) * CHAR_W * 1.1, *(len(line) * CHAR_W for line in lines)) + 2 * PAD
        vertex.view = _View(width, len(texts[name]) * LINE_H + PAD)
    labels: dict[tuple[str, str], list[str]] = {}
    for transition in definition.transitions:
        for source in transition.source:
            if source != transition.dest:
                labels.setdefault((source, transition.dest), []).append(edge_label(transition.trigger))
    edges = [Edge(vertices[a], vertices[b]) for a, b in labels]
    for edge in edges:
        edge.view = _EdgeView()
    graph = Graph(list(vertices.values()), edges)
    offset = 0.0
    for component in graph.C:
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = GAP, GAP * 2
        layout.init_all()
        layout.draw()
        xs = [v.view.xy[0] - v.view.w / 2 for v in component.sV]
        shift = offset - min(xs)
        for vertex in component.sV:
            vertex.view.xy = (vertex.view.xy[0] + shift, vertex.view.xy[1])
        for edge in component.sE:
            edge.view.points = [(x + shift, y) for x, y in edge.view.points]
        offset = max(v.view.xy[0] + v.view.w / 2 for v in component.sV) + GAP
    return _draw(definition, vertices, edges, texts, labels)


def _border(center: tuple[float, float], view: _View, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a box's centre towards ``toward`` leaves the box."""
    (cx, cy), (tx, ty) = center, toward
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return center
    scale = min(view.w / 2 / abs(dx) if dx else float("inf"), view.h / 2 / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def _route(edge: Edge, dy: float) -> list[tuple[float, float]]:
    source, target = edge.v[0].view, edge.v[1].view
    inner = [(x, y + dy) for x, y in edge.view.points[1:-1]]
    start, end = (source.xy[0], source.xy[1] + dy), (target.xy[0], target.xy[1] + dy)
    first = _border(start, source, inner[0] if inner else end)
    last = _border(end, target, inner[-1] if inner else start)
    return [first, *inner, last]


def _draw(
    definition: CaseTypeDef, vertices: dict[str, Vertex], edges: list[Edge], texts: dict[str, list[str]],
    labels: dict[tuple[str, str], list[str]],
) -> str:
    top = min(v.view.xy[1] - v.view.h / 2 for v in vertices.values())
    right = [v.view.xy[0] + v.view.w / 2 for v in vertices.values()]
    right += [x + CHAR_W * 12 for e in edges for x, _ in e.view.points]  # room for a label beside a bend
    width = max(right) + PAD
    height = max(v.view.xy[1] + v.view.h / 2 for v in vertices.values()) - top + 2 * PAD
    dy = PAD - top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="state-diagram" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif" font-size="{FONT}" role="img">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
    ]
    for edge in edges:
        points = _route(edge, dy)
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#444" marker-end="url(#arrow)"/>')
        a, b = points[0], points[1]  # the label sits on the first segment, a third of the way along
        mx, my = a[0] + (b[0] - a[0]) * 0.35, a[1] + (b[1] - a[1]) * 0.35
        text = escape(", ".join(labels[(edge.v[0].data, edge.v[1].data)]))
        parts.append(f'<text x="{mx + 4:.1f}" y="{my:.1f}" fill="#225" font-size="{FONT - 1}">{text}</text>')
    for name, vertex in vertices.items():
        x, y = vertex.view.xy[0] - vertex.view.w / 2, vertex.view.xy[1] - vertex.view.h / 2 + dy
        state = definition.states[name]
        fill = "#eef5ff" if name == definition.initial else ("#f3f3f3" if state.terminal else "#fff")
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{vertex.view.w:.1f}" height="{vertex.view.h:.1f}" '
                     f'rx="6" fill="{fill}" stroke="#333" stroke-width="{2.5 if state.terminal else 1}"/>')
        for index, line in enumerate(texts[name]):
            weight = ' font-weight="bold"' if index == 0 else ""
            parts.append(f'<text x="{x + PAD:.1f}" y="{y + PAD / 2 + LINE_H * (index + 1) - 4:.1f}"{weight}>'
                         f"{escape(line)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)
