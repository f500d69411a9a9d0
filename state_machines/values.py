"""The values a case-type definition is written in: identifiers, labels in several languages,
and durations in business time."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

IDENT = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENT)]

Label = str | dict[str, str]
"""A text in one language, or a mapping locale -> text (e.g. ``{ru: "Возврат", en: "Return"}``)."""


def label_text(label: Label, locale: str, fallback: str = "en") -> str:
    """Pick the text for ``locale``; fall back to ``fallback`` then to any text."""
    if isinstance(label, str):
        return label
    return label.get(locale) or label.get(fallback) or next(iter(label.values()), "")


_DURATION = re.compile(r"^\s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*$")


def parse_business_minutes(value: Any) -> float:
    """Parse ``"4h"``, ``"90m"``, ``"1h30m"`` or a number of minutes into business minutes."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of minutes or a text like '4h', '90m', '1h30m'")
    if isinstance(value, int | float):
        minutes = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not value.strip() or not match or not (match["h"] or match["m"]):
            raise ValueError(f"{value!r} is not a duration; write e.g. '4h', '90m' or '1h30m'")
        minutes = float(match["h"] or 0) * 60 + float(match["m"] or 0)
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. '4h', '90m' or '1h30m'")
    if minutes < 0:
        raise ValueError("a duration cannot be negative")
    return minutes


BusinessMinutes = Annotated[float, BeforeValidator(parse_business_minutes)]


class Strict(BaseModel):
    """A definition part: unknown keys are refused, parsed values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
