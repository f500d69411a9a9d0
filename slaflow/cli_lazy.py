"""A Typer root group whose commands are imported only when they run.

``slaflow --help`` lists every command from a table of ``name -> ("module:attribute", help)``
without importing a single command module (Prefect, FastAPI, the engine, charts); running
``slaflow case show 1`` imports ``slaflow.commands.cases`` and nothing else. The attribute may be a
``typer.Typer`` (a sub-app: a group or a one-command app) or a plain function (a command).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command, get_group

LazySpec = tuple[str, str]
"""``("package.module:attribute", "one-line help for `slaflow --help`")``."""


def load_command(name: str, target: str) -> Any:
    """Import ``module:attribute`` and turn it into a click command named ``name``."""
    module_name, _, attribute = target.partition(":")
    loaded = getattr(import_module(module_name), attribute)
    command: Any
    if isinstance(loaded, typer.Typer):
        command = get_group(loaded)  # a sub-app stays a group even with one command
    else:
        single = typer.Typer()
        single.command(name)(loaded)
        command = get_command(single)
    command.name = name
    return command


class _Placeholder(TyperCommand):
    """Stands for a command in help listings; becomes the real command when it is invoked."""

    def __init__(self, name: str, spec: LazySpec) -> None:
        super().__init__(name, short_help=spec[1], help=spec[1])
        self.target = spec[0]

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        real = load_command(self.name or "", self.target)
        return real.make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The root group: eager commands as usual, plus ``lazy_commands`` loaded on use."""

    lazy_commands: Mapping[str, LazySpec] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.lazy_commands:
            return _Placeholder(cmd_name, self.lazy_commands[cmd_name])
        return super().get_command(ctx, cmd_name)


def lazy_group(commands: Mapping[str, LazySpec]) -> type[LazyGroup]:
    """A LazyGroup class bound to a command table (Typer takes a class, not an instance)."""
    return type("SlaflowGroup", (LazyGroup,), {"lazy_commands": dict(commands)})
