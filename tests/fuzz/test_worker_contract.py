"""The worker's contract (``WorkItem``, a message body on the work queue), fuzzed through its handler.

The worker answers its flow through the task token in the message: SendTaskSuccess with
the summary, or SendTaskFailure with an error the flow names. The fuzzed tokens belong to
no waiting execution, so Step Functions is a recorder here: each call is checked against
the API's own parameter model (botocore's validation, what a real client does before
sending) and kept. DynamoDB, the model and the rest stay the local cloud's.

Properties: the handler never raises (a batch of SQS records answers with its failures);
a valid item answers its token with a ``WorkResult`` or a named error; a broken one with a
readable token is failed by name (``InvalidInput``, the cause naming the field); a broken
one without a token, or a body that is no JSON object, is left for SQS to bring back (and
then to dead-letter), since no flow can be told.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from types import ModuleType
from typing import Any

import pytest
from botocore.validate import validate_parameters
from hypothesis import given, settings
from hypothesis import strategies as st

from aiflows.registry import capabilities
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, load_handler
from tests.fuzz.examples import FUZZ, count
from tests.fuzz.schemas import NOT_AN_OBJECT, Mutation, from_schema, mutations
from tests.fuzz.steps import MESSAGE_LIMIT, REFINE, first_delivery

pytestmark = pytest.mark.usefixtures("function_env")

WORKER = capabilities()["worker"]
WorkItem, WorkResult = WORKER.input_model, WORKER.output_model
SCHEMA = WorkItem.model_json_schema()
VALID, MUTATED = 20, 80
CAUSE_CHARS, ERROR_CHARS = 32768, 256  # what SendTaskFailure takes


class TaskTokens:
    """Step Functions' task-token calls, checked as botocore checks them, and recorded."""

    def __init__(self, real: Any) -> None:
        self._model = real.meta.service_model
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        validate_parameters(params, self._model.operation_model(operation).input_shape)
        if operation == "SendTaskFailure":
            assert len(params.get("error", "")) <= ERROR_CHARS and len(params.get("cause", "")) <= CAUSE_CHARS
        self.calls.append((operation, params))
        return {}

    def send_task_heartbeat(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskHeartbeat", params)

    def send_task_success(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskSuccess", params)

    def send_task_failure(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskFailure", params)

    def answers(self, token: Any) -> list[tuple[str, dict[str, Any]]]:
        """The calls that answered this token (not its heartbeats)."""
        return [(op, p) for op, p in self.calls if op != "SendTaskHeartbeat" and p.get("taskToken") == token]


def sqs_event(body: str) -> dict[str, Any]:
    """One record of the work queue, as the event source mapping hands it to the worker."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
                "awsRegion": "us-east-1",
            }
        ]
    }


@pytest.fixture
def tokens(cloud: LocalCloud) -> TaskTokens:
    return TaskTokens(cloud.client("stepfunctions"))


@pytest.fixture
def handler(tokens: TaskTokens, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The worker, built once per case as a cold start builds it, its Step Functions the recorder."""
    built = load_handler("worker")
    monkeypatch.setattr(built, "sfn", lambda: tokens)
    return built


def test_a_valid_work_item_answers_its_token(
    handler: ModuleType, tokens: TaskTokens, context: Context
) -> None:
    answered: list[str] = []

    @settings(FUZZ, max_examples=VALID)
    @given(from_schema(SCHEMA, refine=REFINE))
    def check(item: dict[str, Any]) -> None:
        count(WorkItem.__name__, "valid")
        item = first_delivery(item)
        event = sqs_event(json.dumps(item))
        assert handler.lambda_handler(event, context) == {"batchItemFailures": []}
        [(operation, params)] = tokens.answers(item["task_token"])
        if operation == "SendTaskSuccess":
            WorkResult.model_validate_json(params["output"])
        else:
            assert params["error"] and params["cause"], params
        answered.append(operation)

    check()
    assert answered.count("SendTaskSuccess") >= len(answered) // 2, answered


@settings(FUZZ, max_examples=MUTATED)
@given(mutation=mutations(from_schema(SCHEMA, refine=REFINE), SCHEMA))
def test_a_broken_work_item_is_failed_by_name_or_left_for_the_queue(
    mutation: Mutation, handler: ModuleType, tokens: TaskTokens, context: Context
) -> None:
    count(WorkItem.__name__, "mutated")
    item = first_delivery(mutation.value, untouched=mutation.path[:1])
    event = sqs_event(json.dumps(item))
    answer = handler.lambda_handler(event, context)
    token = item.get("task_token")
    if isinstance(token, str) and token and mutation.path[:1] != ("task_token",):
        assert answer == {"batchItemFailures": []}
        [(operation, params)] = tokens.answers(token)
        assert (operation, params["error"]) == ("SendTaskFailure", "InvalidInput")
        assert mutation.field in params["cause"] and len(params["cause"]) <= MESSAGE_LIMIT, params["cause"]
    else:  # no flow to tell: SQS brings it back, then dead-letters it
        assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
        assert tokens.answers(token) == []


@settings(FUZZ, max_examples=10)
@given(body=st.one_of(NOT_AN_OBJECT.map(json.dumps), st.sampled_from(["", "{", "not json", "\x00"])))
def test_a_body_that_is_no_work_item_is_left_for_the_queue(
    body: str, handler: ModuleType, tokens: TaskTokens, context: Context
) -> None:
    count(WorkItem.__name__, "mutated")
    event = sqs_event(body)
    answer = handler.lambda_handler(event, context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert [op for op, _ in tokens.calls if op != "SendTaskHeartbeat"] == []
