"""Which of a person's channels a message goes to (the transports that can reach them).

Who the person is (audience specs, language, working hours) is the org chart's: `org.audience`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from notifications.transports import REGISTRY

if TYPE_CHECKING:
    from org.chart import Company


def channels_for(company: Company, person: str, *, all_channels: bool, linked: Collection[str] = ()) -> list[str]:
    """The person's channels that can reach them, in their order of preference: all of them for
    ``all_channels`` kinds, else only the first. If none can reach them the first listed channel
    is still used, so the message fails visibly in the outbox instead of vanishing. ``linked``:
    channels the person linked outside the company file (a Telegram chat, org.telegram_links)."""
    config = company.config.people[person]
    listed = config.channels or ["email"]
    usable = [c for c in listed
              if c in REGISTRY and (c in linked or REGISTRY[c].address(person, config) is not None)]
    if not usable:
        return listed[:1]
    return usable if all_channels else usable[:1]
