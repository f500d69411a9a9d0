"""Case-type hooks: a state may name a Prefect deployment to start when a case enters it.

The started flow gets ``case_id`` as its only parameter (so the hook flow is declared as
``def my_hook(case_id: int)``). The idempotency key is the case and the event that entered the
state, so calling this again for the same entry (a retry, a redelivery) returns the flow run
started the first time instead of starting another.

Call it after the transaction that moved the case committed, never inside it: the engine
must not wait for Prefect, and a rolled-back move must not have started anything. Calling it
from the outbox dispatcher (a message of kind ``hook``) gives at-least-once delivery, which the
idempotency key turns into exactly one flow run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun


def hook_idempotency_key(case_id: int, event_seq: int) -> str:
    return f"case-{case_id}-seq-{event_seq}"


def start_state_hook(deployment_name: str, case_id: int, event_seq: int) -> str:
    """Schedule ``deployment_name`` ("flow-name/deployment-name") for the case now, without
    waiting for it; return the flow run id (the same id on every call for one state entry)."""
    from prefect.deployments import run_deployment

    run = cast(  # called from sync code, run_deployment returns the flow run, not a coroutine
        "FlowRun",
        run_deployment(
            deployment_name,
            parameters={"case_id": case_id},
            timeout=0,
            idempotency_key=hook_idempotency_key(case_id, event_seq),
            as_subflow=False,
            tags=["slaflow-hook", f"case-{case_id}"],
        ),
    )
    return str(run.id)
