"""YAML for configuration files: safe, and a key given twice is an error (PyYAML silently keeps
the last one, so a second ``popov:`` would replace the first person without a word)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from core.errors import ConfigError

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: the example company takes ~5 ms to read
instead of ~40 ms in pure Python (the tests and every command read it)."""


class UniqueKeyLoader(_SafeLoader):  # type: ignore[misc]  # PyYAML ships no types here
    """A SafeLoader that refuses duplicate keys in a mapping, naming the line of each."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {seen[key]})", key_node.start_mark
                )
            try:
                seen[key] = line
            except TypeError:  # an unhashable key: let PyYAML report it its own way
                break
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text; errors name ``source:line:column``."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return parse_yaml(text, str(path))
