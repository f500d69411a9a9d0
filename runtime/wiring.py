"""Who listens to the engine: the features' subscriptions, made in one place.

`wire` is called wherever a company is composed (``runtime.company``), so every entry point and
test that loads a company gets the same subscribers; it is idempotent (subscribing twice is
once). The order is the order of the outbox rows an event writes: people's messages, then the
CRM write-back.
"""

from __future__ import annotations

from crm import writeback
from notifications import events as notifications


def wire() -> None:
    notifications.subscribe()
    writeback.subscribe()
