"""Every event's contract, fuzzed: the events that start the flows, and the events the flows put.

A trigger event (a flow's ``[[triggers]]``) is fed to the step its flow hands the detail
to, found in the flow's definition as it deploys (the first Task whose payload reads
``$.detail``), with the payload that Task builds: a valid detail gets the step's output
or a named error, a broken one ``InvalidInput`` naming the field under the place the
payload puts it (``document.tenant``). A flow whose definition hands the detail to no
Task (batch_intake reads it into variables, and its Map reads the manifest from S3) is
held to the contract as a producer is: :func:`parse_input`, the check its sample events
pass (tests/unit/test_docs.py).

The events the flows put (``aiflows.flows.bus_events``: the shared ``flow.failed`` and
``review.requested``, each flow's completion and rejection) are read as a subscriber
reads them: a valid detail round-trips through JSON unchanged, a broken one is refused
naming the field. What request_review itself puts is held to ``ReviewRequested`` in
test_step_contracts.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import BaseModel

from aiflows.flows import FlowInfo, bus_events, flows
from aiflows.registry import CapabilityInfo
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.errors import FlowError, InvalidInput
from infra.weave import CLAIM_EVENT, START_ONCE
from tests.capabilities.conftest import Context, load_handler
from tests.fuzz.examples import FUZZ, count
from tests.fuzz.schemas import Mutation, from_schema, mutations
from tests.fuzz.steps import MESSAGE_LIMIT, REFINE, first_delivery

pytestmark = pytest.mark.usefixtures("function_env", "claim_bucket")

VALID, MUTATED = 25, 80
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:fuzz:run"


def bus_event(source: str, detail_type: str, detail: Any) -> dict[str, Any]:
    """An event as EventBridge hands it to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def _path(value: Any, path: str) -> Any:
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value[part]
    return value


class FirstStep:
    """The Task a JSONPath flow hands its trigger's detail to, and the payload it builds."""

    def __init__(self, capability: CapabilityInfo, payload: dict[str, Any]) -> None:
        self.capability = capability
        self.payload = payload
        # where the payload puts the detail: a rejection names the field under it
        self.detail_at = next(k.removesuffix(".$") for k, v in payload.items() if v == "$.detail")

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        built: dict[str, Any] = {}
        for key, value in self.payload.items():
            if not key.endswith(".$"):
                built[key] = value
            elif value == "$$.Execution.Id":
                built[key.removesuffix(".$")] = EXECUTION
            elif value.startswith("$$.Execution.Input"):
                built[key.removesuffix(".$")] = _path(event, value.removeprefix("$$.Execution.Input"))
            else:
                built[key.removesuffix(".$")] = _path(event, value)
        return built


def first_step(flow: FlowInfo) -> FirstStep | None:
    """The author's first Task on an event's path from StartAt, if it takes the detail (``$.detail``).

    An event goes through the woven claim first (StartOnce, ClaimEvent), then the author's states.
    """
    definition = flow.woven()
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        return None
    bindings = {f"${{{name}}}": info for name, info in flow.capability_bindings().items()}
    states = definition["States"]
    name = definition["StartAt"]
    if name == START_ONCE:
        name = states[CLAIM_EVENT]["Next"]
    state = states[name]
    while state["Type"] == "Pass" and "Next" in state:
        state = states[state["Next"]]
    parameters = state.get("Parameters") or {}
    payload = parameters.get("Payload") or {}
    if state["Type"] != "Task" or "$.detail" not in payload.values():
        return None
    return FirstStep(bindings[parameters["FunctionName"]], payload)


TRIGGERS = [
    pytest.param(flow, source, detail_type, contract, id=f"{flow.name}:{detail_type}")
    for flow in flows().values()
    for trigger in flow.manifest.triggers
    for source in trigger.source[:1]
    for detail_type, contract in flow.trigger_contracts().items()
    if detail_type in trigger.detail_type
]


def test_every_flow_with_triggers_is_fuzzed() -> None:
    started = {p.values[0].name for p in TRIGGERS}
    assert started == {name for name, flow in flows().items() if flow.manifest.triggers}
    assert {p.values[0].name for p in TRIGGERS if first_step(p.values[0])} >= {"document_intake"}


@pytest.mark.parametrize(("flow", "source", "detail_type", "contract"), TRIGGERS)
def test_a_valid_trigger_event_starts_the_flows_first_step(
    flow: FlowInfo, source: str, detail_type: str, contract: type[BaseModel], context: Context
) -> None:
    step = first_step(flow)
    handler = load_handler(step.capability.name) if step else None
    outcomes: list[str] = []

    @settings(FUZZ, max_examples=VALID)
    @given(from_schema(contract.model_json_schema(), refine=REFINE))
    def check(detail: dict[str, Any]) -> None:
        count(f"{contract.__name__} ({detail_type})", "valid")
        event = bus_event(source, detail_type, detail)
        if step is None:  # no Task takes the detail: it is held to its contract as a producer holds it
            parse_input(event["detail"], contract)
            outcomes.append("accepted")
            return
        try:
            result = handler.lambda_handler(first_delivery(step.event(event)), context)
        except FlowError as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            outcomes.append(type(exc).__name__)
            return
        step.capability.output_model.model_validate(result)
        outcomes.append("output")

    check()
    done = outcomes.count("output") + outcomes.count("accepted")
    assert done >= len(outcomes) // 2, outcomes


@pytest.mark.parametrize(("flow", "source", "detail_type", "contract"), TRIGGERS)
def test_a_broken_trigger_event_is_refused_naming_the_field(
    flow: FlowInfo, source: str, detail_type: str, contract: type[BaseModel], context: Context
) -> None:
    step = first_step(flow)
    handler = load_handler(step.capability.name) if step else None
    schema = contract.model_json_schema()

    @settings(FUZZ, max_examples=MUTATED)
    @given(mutations(from_schema(schema, refine=REFINE), schema))
    def check(mutation: Mutation) -> None:
        count(f"{contract.__name__} ({detail_type})", "mutated")
        event = bus_event(source, detail_type, mutation.value)
        with pytest.raises(InvalidInput) as raised:
            if step is None:
                parse_input(event["detail"], contract)
            else:
                handler.lambda_handler(step.event(event), context)
        field = f"{step.detail_at}.{mutation.field}" if step else mutation.field
        message = str(raised.value)
        assert field in message, f"{mutation.kind} at {field!r}, but the message is {message!r}"
        assert len(message) <= MESSAGE_LIMIT

    check()


TRIGGERED = {detail_type for flow in flows().values() for detail_type in flow.trigger_contracts()}
PUBLISHED = sorted(
    {contract for detail_type, (_, contract, _) in bus_events().items() if detail_type not in TRIGGERED},
    key=lambda c: c.__name__,
)


def test_every_event_the_flows_put_has_its_contract_fuzzed() -> None:
    assert {c.__name__ for c in PUBLISHED} >= {
        "FlowFailed",
        "ReviewRequested",
        "FlowCompleted",
        "FlowRejected",
    }


@pytest.mark.parametrize("contract", PUBLISHED, ids=lambda c: c.__name__)
def test_a_published_event_reads_back_as_it_was_put(contract: type[BaseModel]) -> None:
    schema = contract.model_json_schema()

    @settings(FUZZ, max_examples=VALID)
    @given(from_schema(schema))
    def check(detail: dict[str, Any]) -> None:
        count(contract.__name__, "valid")
        read = parse_input(json.loads(json.dumps(detail)), contract)
        assert read.model_dump(mode="json") == contract.model_validate(detail).model_dump(mode="json")
        assert parse_input(read.model_dump_json(), contract) == read

    check()


@pytest.mark.parametrize("contract", PUBLISHED, ids=lambda c: c.__name__)
def test_a_broken_published_event_is_refused_naming_the_field(contract: type[BaseModel]) -> None:
    schema = contract.model_json_schema()

    @settings(FUZZ, max_examples=MUTATED)
    @given(mutations(from_schema(schema), schema))
    def check(mutation: Mutation) -> None:
        count(contract.__name__, "mutated")
        with pytest.raises(InvalidInput) as raised:
            parse_input(mutation.value, contract)
        assert mutation.field in str(raised.value), f"{mutation.kind} at {mutation.field!r}: {raised.value}"

    check()
