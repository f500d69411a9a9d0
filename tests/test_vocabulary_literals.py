"""Each closed vocabulary is spelled once: no module compares a timer's or a clock's kind or
status with a bare string (``timer.kind == "breach"``, ``SlaClock.status.in_(("met", ...))``);
it uses the enum member (`core.vocabulary`, `sla.model`). An AST scan, so a new literal fails CI."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from core.vocabulary import ParticipantRole, SignInMethod, TimerKind, TimerStatus
from sla.model import ClockKind, ClockStatus

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "bench", "breaches", "core", "crm", "duties", "engine", "flows", "leads", "notifications", "org",
            "regulation", "reports", "runtime", "sla", "slaflow", "state_machines", "storage")
DECLARED = {"core/vocabulary.py", "sla/model.py"}
VOCABULARIES = {
    "kind": {str(m) for m in (*TimerKind, *ClockKind)},
    "status": {str(m) for m in (*TimerStatus, *ClockStatus)},
    "role": {str(m) for m in ParticipantRole},
    "method": {str(m) for m in SignInMethod},
}
"""What the compared name ends with -> the literals that name's vocabulary forbids."""
OTHER_VOCABULARY = {"OutboxMessage"}
"""Tables whose ``kind`` is another vocabulary (notification kinds, notifications.config.Kind)."""


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in DECLARED:
                continue
            if "/migrations/" in relative:  # a migration keeps the values of its day
                continue
            yield relative, ast.parse(path.read_text(encoding="utf-8"))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        owner = node.value
        return None if isinstance(owner, ast.Name) and owner.id in OTHER_VOCABULARY else node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value  # row["kind"]
    return None


def _is_in_call(node: ast.AST) -> bool:
    """``column.in_(...)`` / ``column.not_in(...)`` (SQLAlchemy)."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("in_", "not_in")


def _literals(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for item in node.elts:
            yield from _literals(item)
    elif _is_in_call(node):
        assert isinstance(node, ast.Call)
        for arg in node.args:
            yield from _literals(arg)


def _offences(relative: str, tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            pairs = [(a, b) for a in sides for b in sides if a is not b]
        elif _is_in_call(node):
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            pairs = [(node.func.value, arg) for arg in node.args]
        else:
            continue
        for named, other in pairs:
            name = _name(named)
            if name is None:
                continue
            for suffix, forbidden in VOCABULARIES.items():
                if name == suffix or name.endswith("_" + suffix):
                    for literal in _literals(other):
                        if literal in forbidden:
                            yield f"{relative}:{node.lineno}: {name} compared with {literal!r}"


def test_no_vocabulary_literal_is_compared_outside_its_declaration() -> None:
    found = sorted({offence for relative, tree in _modules() for offence in _offences(relative, tree)})
    assert found == []


def test_the_scan_finds_a_bare_literal() -> None:
    """The guard itself: each shape it must catch is caught."""
    source = (
        'timer.kind == "breach"\n'
        'Timer.status != "pending"\n'
        'clock.status in ("met", "breached")\n'
        'SlaClock.kind.in_(["step"])\n'
        'row["status"] == "fired"\n'
        '"case" == clock_kind\n'
        'participant.role == "owner"\n'
    )
    found = list(_offences("x.py", ast.parse(source)))
    assert [line.split(": ", 1)[1] for line in found] == [
        "kind compared with 'breach'",
        "status compared with 'pending'",
        "status compared with 'met'",
        "status compared with 'breached'",
        "kind compared with 'step'",
        "status compared with 'fired'",
        "clock_kind compared with 'case'",
        "role compared with 'owner'",
    ]
    allowed = 'timer.kind == TimerKind.BREACH\nsettings.mode == "auto"\nOutboxMessage.kind == "escalation"'
    assert list(_offences("x.py", ast.parse(allowed))) == []
