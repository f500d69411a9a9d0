"""The README stays in step with the code: its diagrams are the generated ones, and its test
command is exactly what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from state_machines.builtin import BUILTIN_TYPES
from state_machines.machine import diagrams_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_diagrams_are_generated_from_the_definitions() -> None:
    section = README.split("<!-- diagrams:start -->\n", 1)[1].split("<!-- diagrams:end -->", 1)[0]
    assert section.strip() == diagrams_markdown(BUILTIN_TYPES.values()).strip(), (
        "regenerate with: slaflow graph > /tmp/d.md and paste it between the diagrams markers"
    )


def test_the_readme_starts_with_the_demo_and_the_test_command_that_ci_runs() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", README)
    demo, tests = commands[0], commands[1]
    assert demo.endswith("slaflow demo")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), "the README's test command must be a line of .ci/run"
    assert ci.strip().splitlines()[-1] == tests
