"""Structured figures of a duty (issue 19, point 6): a duty may say which figures its delivery
carries (stock per SKU, payments total ...) and how old the information may be. A delivery is
checked against that schema (pydantic, built from the config), must say when the figures were
taken (``as_of``), and is stored with its age in the owing department's business minutes and a
``stale`` flag when it was older than ``max_age``. Pure: the engine calls `checked_delivery`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, create_model

from core.errors import InvalidData
from sla.calendar import BusinessCalendar
from state_machines.values import BusinessMinutes, Identifier


class FigureKind(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    TEXT = "text"
    PER_KEY = "per_key"
    """A number per key, e.g. stock per SKU: ``{"sku-1": 120, "sku-2": 0}``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FigureSpec(_Strict):
    kind: FigureKind = FigureKind.NUMBER
    required: bool = True
    min: float | None = None
    """The smallest value allowed (e.g. 0 for stock), for numbers and per-key numbers."""


class FiguresConfig(_Strict):
    fields: dict[Identifier, FigureSpec] = Field(min_length=1)
    max_age: BusinessMinutes | None = None
    """Older information (``as_of`` to delivery, in the owing department's business time) is stale."""


def _type(spec: FigureSpec) -> Any:
    number: Any = StrictInt | StrictFloat
    if spec.kind is FigureKind.TEXT:
        return str
    if spec.kind is FigureKind.INTEGER:
        return StrictInt
    if spec.kind is FigureKind.PER_KEY:
        return dict[str, number]
    return number


def _model(config: FiguresConfig) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (_type(spec) if spec.required else _type(spec) | None, ... if spec.required else None)
        for name, spec in config.fields.items()
    }
    return create_model("Figures", __config__=ConfigDict(extra="forbid"), **fields)


def _below_min(config: FiguresConfig, figures: dict[str, Any]) -> list[str]:
    problems = []
    for name, spec in config.fields.items():
        value = figures.get(name)
        if spec.min is None or value is None:
            continue
        values = value.items() if isinstance(value, dict) else [(None, value)]
        problems += [f"{name}{'.' + key if key else ''}: {number} is below {spec.min:g}"
                     for key, number in values if number < spec.min]
    return problems


def checked_delivery(config: FiguresConfig, payload: dict[str, Any], *, now: datetime,
                     calendar: BusinessCalendar) -> dict[str, Any]:
    """The payload with its figures checked, ``as_of`` normalised, ``age_minutes`` and ``stale``;
    raises `InvalidData` naming every problem (nothing is stored then)."""
    raw = payload.get("figures")
    if not isinstance(raw, dict):
        raise InvalidData(f"figures must be an object with {', '.join(config.fields)}")
    try:
        figures = _model(config).model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise InvalidData("figures: " + "; ".join(problems)) from None
    if problems := _below_min(config, figures):
        raise InvalidData("figures: " + "; ".join(problems))
    as_of_text = payload.get("as_of")
    try:
        as_of = datetime.fromisoformat(as_of_text) if isinstance(as_of_text, str) else None
    except ValueError:
        as_of = None
    if as_of is None or as_of.tzinfo is None:
        raise InvalidData("as_of: when the figures were taken is required, as ISO 8601 with offset, "
                          "e.g. 2026-11-16T08:00+03:00")
    if as_of > now:
        raise InvalidData(f"as_of {as_of.isoformat()} is in the future")
    age = calendar.business_minutes_between(as_of, now)
    stale = config.max_age is not None and age > config.max_age
    return {**payload, "figures": figures, "as_of": as_of.isoformat(), "age_minutes": round(age, 1), "stale": stale}
