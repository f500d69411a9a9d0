"""Which weekday's day off a country's working weekend day took, from the ``holidays`` package
(used by `sla.calendar` for a working Saturday's hours and by `sla.ru_shortened_days` to derive a
year's shortened days)."""

from __future__ import annotations

from datetime import date
from typing import Any


def transfer_substitutions(country_holidays: Any) -> dict[date, date]:
    """Working weekend day -> the weekday whose day off it took, from a ``holidays`` object.

    Reads the package's transfer table (``special_public_holidays``: (to_month, to_day, from_month,
    from_day[, from_year]) per year); returns {} if that table is missing or has an unexpected shape.
    """
    out: dict[date, date] = {}
    try:
        mapping = getattr(country_holidays, "special_public_holidays", None) or {}
        for year, entries in mapping.items():
            items = entries if entries and isinstance(entries[0], tuple) else (entries,)
            for item in items:
                if len(item) == 4:
                    to_m, to_d, from_m, from_d = item
                    out[date(year, from_m, from_d)] = date(year, to_m, to_d)
                elif len(item) == 5:
                    to_m, to_d, from_m, from_d, from_y = item
                    out[date(from_y, from_m, from_d)] = date(year, to_m, to_d)
    except (TypeError, ValueError, AttributeError):
        return {}
    return out
