"""act: perform one allowlisted action, idempotently (putting an event, writing a record).

Each performed action goes on the run's audit trail (``action.performed``), once: a
retried invocation returns the stored result and records nothing again.
"""

from typing import Any

from aiflows_runtime import audit
from aiflows_runtime.actions import PutEvent, plan
from aiflows_runtime.capability import idempotent_step, register_context
from aiflows_runtime.clients import client
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.observability import capability_handler
from aiflows_runtime.policies import action_policy
from aiflows_runtime.settings import settings

from . import effects
from .contract import ActInput, ActOutput

CAPABILITY = "act"


@idempotent_step(CAPABILITY, key="[flow, action, action_id]")  # two flows may use one action id
def act(request: ActInput) -> dict[str, Any]:
    effect = plan(request.action, request.action_id, request.payload, action_policy(request.flow))
    config = settings()
    if isinstance(effect, PutEvent):
        reference = effects.put_event(client("events"), config.event_bus_name, effect)
    else:
        reference = effects.write_record(client("dynamodb"), config.state_table_name, effect)
    audit.record(
        "action.performed",
        audit.RunOf(request.correlation_id, request.flow),
        actor=audit.flow_actor(request.flow),
        details={"action": request.action, "action_id": request.action_id, "reference": reference},
    )
    return ActOutput(
        action=request.action, action_id=request.action_id, status="done", reference=reference
    ).model_dump()


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return act(request=parse_input(event, ActInput))
