"""The architecture is checked like behaviour: the import contract (pyproject.toml
``[tool.importlinter]``: every import counts, module-level, inside functions and under
TYPE_CHECKING) and the size of modules."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
"""A module longer than this does more than one job; split it (see CONTRIBUTING.md)."""


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages: list[str] = config["tool"]["importlinter"]["root_packages"]
    return packages


def test_the_layers_contract_holds_with_no_ignored_import() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert config.get("exclude_type_checking_imports", False) is False
    for contract in config["contracts"]:
        assert not contract.get("ignore_imports"), f"{contract['name']}: the contract ignores imports"
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_package_of_the_wheel_is_in_the_contract() -> None:
    """A new top-level package must take its place in the layers (or the contract would not see it)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = set(config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    layered = {name.strip() for layer in config["tool"]["importlinter"]["contracts"][0]["layers"]
               for name in layer.replace(":", "|").split("|")}
    assert wheel == set(_packages()) == layered


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in _packages()
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
