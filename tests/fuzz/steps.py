"""What the fuzz cases share: how a step is invoked and judged, and what each example starts from.

- :func:`answered`: a step's output must satisfy its output contract, or its error must be
  a named one (a :class:`FlowError`: the flows' Retry and Catch match it by its name);
- :func:`refused`: a broken input must be ``InvalidInput`` whose message names the place;
- :func:`first_delivery`: each example is a first delivery (ids no earlier example used);
- ``REFINE``: what the contracts' validators ask that their JSON schemas cannot say;
- :func:`step_inputs`: a capability's valid inputs, from its contract's JSON schema.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st
from pydantic import BaseModel

from aiflows.flows import action_policies
from aiflows.registry import CapabilityInfo
from aiflows_runtime.claimcheck import BATCH_RESULTS_PREFIX
from aiflows_runtime.errors import FlowError, InvalidInput
from localcloud import LocalCloud
from tests.capabilities.conftest import BUS, Context
from tests.fuzz.schemas import Mutation, Schema, from_schema

MESSAGE_LIMIT = 2000  # a refusal names what is wrong; it does not quote the input


def with_text(schema: Schema) -> Schema:
    """A document with its text inline: what ``Document``'s validator asks and its schema cannot say.

    (A ``text_ref`` makes the step read S3: the mutations and the claim-check tests reach it.)
    """
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k != "text_ref"}
    schema["properties"]["text"] = {"type": "string", "minLength": 1, "maxLength": 2000}
    schema["required"] = [*schema.get("required", []), "text"]
    return schema


REFINE = {"Document": with_text}


def allowed_actions() -> st.SearchStrategy[dict[str, Any]]:
    """Actions a flow's actions.toml allows, so that act does its work and not only refuses."""
    choices = []
    for flow, policy in action_policies().items():
        for detail_type in policy["put_event"]["detail_types"]:
            choices.append((flow, "put_event", "detail_type", detail_type, "detail"))
        for record_type in policy["write_record"]["record_types"]:
            choices.append((flow, "write_record", "record_type", record_type, "data"))
    json_object = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40), max_size=4)
    return st.tuples(st.sampled_from(choices), json_object).map(
        lambda pick: {
            "flow": pick[0][0],
            "action": pick[0][1],
            "payload": {pick[0][2]: pick[0][3], pick[0][4]: pick[1]},
        }
    )


RESULTS_PREFIX = f"{BATCH_RESULTS_PREFIX}fuzz/runs/one"


def seed_batch_results(cloud: LocalCloud, bucket: str) -> None:
    """A Map Run's ResultWriter files under one prefix, as a batch run leaves them."""
    s3 = cloud.client("s3")
    record = {"Input": json.dumps({"document": {"document_id": "d-1"}}), "Output": '{"cost_usd": 0.001}'}
    failed = {"Input": "{}", "Status": "FAILED", "Error": "InvalidInput", "Cause": "document_id: missing"}
    files = {"SUCCEEDED_0.json": [record], "FAILED_0.json": [failed]}
    for name, records in files.items():
        s3.put_object(Bucket=bucket, Key=f"{RESULTS_PREFIX}/m/{name}", Body=json.dumps(records).encode())
    manifest = {
        "ResultFiles": {
            status: [{"Key": f"{RESULTS_PREFIX}/m/{status}_0.json"}] for status in ("SUCCEEDED", "FAILED")
        }
    }
    s3.put_object(Bucket=bucket, Key=f"{RESULTS_PREFIX}/m/manifest.json", Body=json.dumps(manifest).encode())


def step_inputs(info: CapabilityInfo) -> st.SearchStrategy[Any]:
    """Inputs that satisfy the capability's contract, from its JSON schema; for the steps whose
    work depends on data outside the input, some that reach it (an allowed action, a batch's results)."""
    generated = from_schema(info.input_model.model_json_schema(), refine=REFINE)
    if info.name == "act":
        return st.one_of(generated, st.tuples(generated, allowed_actions()).map(lambda p: {**p[0], **p[1]}))
    if info.name == "batch_report":
        return st.one_of(generated, generated.map(lambda v: {**v, "results_prefix": RESULTS_PREFIX}))
    return generated


IDEMPOTENCY_KEYS = ("correlation_id", "task_token", "action_id")  # what the steps' idempotency keys read
_invocations = itertools.count()


def first_delivery(event: Any, untouched: tuple[Any, ...] = ()) -> Any:
    """The event with ids no earlier example used: each example is a first delivery, so that the
    idempotency record of an earlier one does not answer for it (and a failure replays as it ran).
    A field a mutation broke stays as it broke it (``untouched``)."""
    if not isinstance(event, dict):
        return event
    suffix = f"~{next(_invocations)}"
    fresh = dict(event)
    for key in IDEMPOTENCY_KEYS:
        if key not in untouched and isinstance(fresh.get(key), str) and fresh[key]:
            fresh[key] = fresh[key][: 256 - len(suffix)] + suffix
    return fresh


class Observed:
    """What a case saw: each outcome's count, and the outputs themselves."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.outputs: list[dict[str, Any]] = []


def answered(
    handler: Any, event: Any, context: Context, output: type[BaseModel], observed: Observed
) -> dict[str, Any] | None:
    """Invoke the step; its output must satisfy its contract, or its error must be a named one."""
    try:
        result = handler.lambda_handler(first_delivery(event), context)
    except FlowError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        observed.outcomes[type(exc).__name__] += 1
        return None
    output.model_validate(result)
    observed.outcomes["output"] += 1
    observed.outputs.append(result)
    return dict(result)


def refused(handler: Any, mutation: Mutation, context: Context) -> str:
    """Invoke the step with a broken input: it must say InvalidInput, naming the place."""
    with pytest.raises(InvalidInput) as raised:
        handler.lambda_handler(mutation.value, context)
    message = str(raised.value)
    assert mutation.field in message, f"{mutation.kind} at {mutation.field!r}, but the message is {message!r}"
    assert len(message) <= MESSAGE_LIMIT, f"{len(message)} characters: {message[:300]!r}…"
    return message


def bus_capture(cloud: LocalCloud, name: str, sources: list[str]) -> Callable[[], list[dict[str, Any]]]:
    """A rule from the test bus to a queue of its own; the function returned drains it."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=BUS, EventPattern=json.dumps({"source": sources}))
    events.put_targets(Rule=name, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])

    def drain() -> list[dict[str, Any]]:
        seen = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return seen

    return drain
