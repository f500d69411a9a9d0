"""What the features give the engine, made in one place: their subscriptions to its domain
events and their case-type hooks (the engine imports no feature).

`wire` is called wherever a company is composed (``runtime.company``), so every entry point and
test that loads a company gets the same subscribers and hooks; it is idempotent (subscribing or
registering twice is once). The subscription order is the order of the outbox rows an event
writes: people's messages, then the CRM write-back.
"""

from __future__ import annotations

from crm import writeback
from duties.opening import DutyCaseHooks
from engine import case_hooks
from notifications import events as notifications
from state_machines import duty as duty_type


def wire() -> None:
    notifications.subscribe()
    writeback.subscribe()
    case_hooks.register(duty_type.NAME, DutyCaseHooks())
