"""Jinja2 rendering of the template files in ``notifications/templates/<locale>/``.

``<kind>.email.j2`` has two blocks, ``subject`` and ``body``; ``<kind>.chat.j2`` is the short
text for Telegram and Slack; ``_macros.j2`` holds the locale's formatting helpers (durations,
dates, links), built with the message's variables and passed to every template as ``macros``.
Webhooks get JSON built from the context plus the chat text. ``StrictUndefined`` turns a
missing variable into an error (a permanent delivery failure) instead of a blank message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from notifications.config import KINDS
from notifications.transports.base import Format

TEMPLATES = Path(__file__).parent / "templates"
LOCALES: tuple[str, ...] = ("ru", "en", "pl")
FALLBACK_LOCALE = "en"
TEMPLATE_FORMATS: tuple[str, ...] = ("email", "chat")
DERIVED_KINDS: tuple[str, ...] = ("duty_digest",)
"""Kinds made at dispatch from other rows (notifications.folding), never produced as rows."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,  # plain text only; no HTML is ever rendered
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["localtime"] = localtime
    return env


@pass_context
def localtime(context: Context, value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO instant from the context shown in the recipient's time zone (``tz`` in the context)."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(context["tz"])).strftime(fmt)


def template_names(locale: str) -> list[str]:
    return [f"{locale}/{kind}.{fmt}.j2" for kind in (*KINDS, *DERIVED_KINDS) for fmt in TEMPLATE_FORMATS]


def render(kind: str, locale: str, fmt: Format, context: dict[str, Any], *, app_url: str = "",
           ack_url: str = "") -> Rendered:
    """Render one message. Raises `jinja2.TemplateError` (missing template or variable)."""
    env = environment()
    locale = locale if (TEMPLATES / locale).is_dir() else FALLBACK_LOCALE
    variables: dict[str, Any] = {**context, "app_url": app_url.rstrip("/"), "ack_url": ack_url}
    variables["macros"] = env.get_template(f"{locale}/_macros.j2").make_module(variables)
    if fmt == "email":
        template = env.get_template(f"{locale}/{kind}.email.j2")
        subject = " ".join(_block(template, "subject", variables).split())
        return Rendered(subject=subject, text=_block(template, "body", variables).strip() + "\n")
    text = env.get_template(f"{locale}/{kind}.chat.j2").render(variables).strip()
    if fmt == "chat":
        return Rendered(subject="", text=text)
    payload = {"kind": kind, "locale": locale, "text": text, "data": context}
    return Rendered(subject="", text=text, payload=payload)


def _block(template: Any, name: str, variables: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(variables)))
