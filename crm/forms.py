"""Form bodies with PHP-style bracketed keys (``data[FIELDS][ID]=42``), as Bitrix24 and amoCRM
send them, turned into nested dicts. One helper shared by the adapters."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from crm.errors import MalformedWebhook

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_FIELDS = 5000


def parse_form(body: bytes) -> dict[str, Any]:
    """``a[b][0][c]=v&a[b][0][d]=w`` -> ``{"a": {"b": {"0": {"c": "v", "d": "w"}}}}``.

    Numeric indices stay string keys (use `ordered` to iterate them); ``a[]=x`` appends."""
    if b"\x00" in body:
        raise MalformedWebhook("the form body contains a NUL byte")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS,
                          errors="strict")
    except UnicodeDecodeError:
        raise MalformedWebhook("the form body is not UTF-8") from None
    except ValueError as exc:
        raise MalformedWebhook(f"the form body cannot be parsed: {exc}") from None
    nested: dict[str, Any] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise MalformedWebhook(f"form field {key.replace(chr(0), '%00')!r} contains a NUL character")
        _insert(nested, key, value)
    return nested


def _insert(root: dict[str, Any], key: str, value: str) -> None:
    match = _KEY.match(key)
    if match is None:
        raise MalformedWebhook(f"form key {key!r} is not name[part][part]...")
    parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
    node: dict[str, Any] = root
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if part == "":
            part = str(len(node))
        if last:
            if isinstance(node.get(part), dict):
                raise MalformedWebhook(f"form key {key!r} conflicts with a nested key of the same name")
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise MalformedWebhook(f"form key {key!r} conflicts with a plain value of the same name")
        node = child


def ordered(mapping: Any) -> list[Any]:
    """The values of a ``{"0": ..., "1": ...}`` dict in index order (or a list as it is)."""
    if isinstance(mapping, list):
        return mapping
    if not isinstance(mapping, dict):
        return []
    return [mapping[k] for k in sorted(mapping, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))]
