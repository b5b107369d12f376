"""The operations commands against what AWS answers where the local cloud is kinder."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from aiflows import ops

OUTPUTS = {
    "ClassifyExtractStateMachineArn": "arn:aws:states:eu-west-1:1:stateMachine:ce",
    "DocumentIntakeStateMachineArn": "arn:aws:states:eu-west-1:1:stateMachine:di",
    "WorkDeadLetterQueueUrl": "https://sqs/dlq",
    "WorkQueueUrl": "https://sqs/work",
    "EventTargetDeadLetterQueueUrl": "https://sqs/edlq",
    "EventBusName": "aiflows",
}


class Fake:
    """A client that answers each call from a script, and keeps the calls."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            answer = self.answers[name]
            return answer.pop(0) if isinstance(answer, list) else answer

        return call


def clients_with(**services: Fake) -> ops.Clients:
    cloudformation = Fake(
        describe_stacks={
            "Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()]}]
        }
    )
    services = {"cloudformation": cloudformation, **services}
    return lambda name: services[name]


def test_an_express_flow_is_answered_with_where_its_executions_are() -> None:
    sfn = Fake(
        describe_state_machine={
            "type": "EXPRESS",
            "loggingConfiguration": {
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:logs:ce"}}]
            },
        }
    )
    since = datetime.datetime(2026, 11, 24, tzinfo=datetime.UTC)
    with pytest.raises(ops.OpsError, match=r"Express flow.*arn:logs:ce.*Logs Insights"):
        ops.failed_runs(clients_with(stepfunctions=sfn), "AiFlows", "classify_extract", since)
    assert [name for name, _ in sfn.calls] == ["describe_state_machine"]  # ListExecutions never called


def test_listing_dead_letters_long_polls_and_does_not_stop_at_an_empty_short_answer() -> None:
    message = {
        "MessageId": "m-1",
        "Body": '{"correlation_id": "run-1", "flow": "document_intake", "document": {"document_id": "d-1"}}',
        "Attributes": {"SentTimestamp": "1795550000000", "ApproximateReceiveCount": "3"},
    }
    sqs = Fake(receive_message=[{"Messages": [message]}, {}])
    [letter] = ops.dead_letters(clients_with(sqs=sqs), "AiFlows", "work")
    assert letter.summary == "run run-1 (document_intake), document d-1"
    assert all(kwargs["WaitTimeSeconds"] >= 1 for _, kwargs in sqs.calls)


def test_a_redrive_moves_what_was_waiting_when_it_started_and_no_more() -> None:
    first = {"MessageId": "m-1", "Body": "{}", "ReceiptHandle": "r-1", "MessageAttributes": {}}
    sqs = Fake(
        get_queue_attributes={"Attributes": {"ApproximateNumberOfMessages": "1"}},
        receive_message=[{"Messages": [first]}],  # a second receive would fail the test: there is none
        send_message={},
        delete_message={},
    )
    assert ops.redrive(clients_with(sqs=sqs), "AiFlows", "work") == 1
    sent = [kwargs for name, kwargs in sqs.calls if name == "send_message"]
    assert sent == [{"QueueUrl": "https://sqs/work", "MessageBody": "{}", "MessageAttributes": {}}]
    assert [name for name, _ in sqs.calls].count("receive_message") == 1


def test_paging_stops_at_the_first_execution_older_than_asked() -> None:
    new = datetime.datetime(2026, 11, 24, 12, tzinfo=datetime.UTC)
    old = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)

    class Paginator:
        pages_read = 0

        def paginate(self, **_: Any) -> Any:
            for page in (
                [{"executionArn": "a", "startDate": new}],
                [{"executionArn": "b", "startDate": old}],
                [],
            ):
                Paginator.pages_read += 1
                yield {"executions": page}
                if page and page[0]["startDate"] == old:
                    raise AssertionError("paged past the window")

    sfn = Fake()
    sfn.get_paginator = lambda name: Paginator()  # type: ignore[method-assign]
    found = list(ops._executions(lambda _: sfn, "arn", ("FAILED",), new - datetime.timedelta(hours=1)))
    assert [e["executionArn"] for e in found] == ["a"]
