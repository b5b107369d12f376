"""The long-running worker: chunks, heartbeats, and the task token answered once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.capabilities.conftest import Context, load_handler

pytestmark = pytest.mark.usefixtures("function_env")

PARAGRAPH = "Invoice {n} is due in 30 days. Payment goes to Northwind Supplies. " * 60


def flow(cloud: LocalCloud, queue_url: str, timeout_seconds: int = 600) -> str:
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {
                        "task_token.$": "$$.Task.Token",
                        "correlation_id.$": "$.correlation_id",
                        "flow": "document_intake",
                        "document.$": "$.document",
                        "max_words": 40,
                    },
                },
                "HeartbeatSeconds": min(60, timeout_seconds - 1) or None,
                "TimeoutSeconds": timeout_seconds,
                "End": True,
            }
        },
    }
    return cloud.client("stepfunctions").create_state_machine(
        name=f"worker-{time.monotonic_ns()}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def start_and_receive(
    cloud: LocalCloud, text: str, name: str, timeout_seconds: int = 600
) -> tuple[str, dict[str, Any], str]:
    sqs, sfn = cloud.client("sqs"), cloud.client("stepfunctions")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    document = {"document_id": "big-1", "tenant": "acme", "text": text}
    execution = sfn.start_execution(
        stateMachineArn=flow(cloud, queue_url, timeout_seconds),
        name=name,
        input=json.dumps({"correlation_id": f"run-{name}", "document": document}),
    )["executionArn"]
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert messages, "the flow did not send its work"
    return execution, sqs_event(messages, queue_arn), queue_url


def test_the_worker_summarizes_in_chunks_and_answers_the_token(cloud: LocalCloud, context: Context) -> None:
    # Given a flow waiting on a long document sent to the queue
    text = "\n\n".join(PARAGRAPH.format(n=n) for n in range(4))
    execution, event, _ = start_and_receive(cloud, text, "long-1")
    handler = load_handler("worker")
    # When the worker takes the batch
    answer = handler.lambda_handler(event, context)
    # Then no record failed, every chunk was summarized, and the flow got the summary
    assert answer == {"batchItemFailures": []}
    described = cloud.wait_for_execution(execution, timeout=10)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["chunks"] == len(cloud.model.calls) == 2  # 4 paragraphs of 4 KB in 8 KB chunks
    assert 0 < output["words"] <= 40
    # And a redelivery of the same message is not worked, nor charged, twice
    again = handler.lambda_handler(event, context)
    assert again == {"batchItemFailures": []}
    assert len(cloud.model.calls) == 2


def test_a_document_that_breaks_its_contract_fails_the_task_by_name(
    cloud: LocalCloud, context: Context
) -> None:
    execution, event, _ = start_and_receive(cloud, "short", "long-2")
    body = json.loads(event["Records"][0]["body"])
    body["document"]["document_id"] = "has spaces"
    event["Records"][0]["body"] = json.dumps(body)
    handler = load_handler("worker")
    assert handler.lambda_handler(event, context) == {"batchItemFailures": []}
    described = cloud.wait_for_execution(execution, timeout=10)
    assert (described["status"], described["error"]) == ("FAILED", "InvalidInput")


def test_a_transient_failure_fails_only_that_message(cloud: LocalCloud, context: Context) -> None:
    from localcloud.model import Throttle

    execution, event, _ = start_and_receive(cloud, PARAGRAPH.format(n=1), "long-3")
    cloud.model.script("amazon.nova-micro-v1:0", *[Throttle()] * 3)
    cloud.model.script("amazon.nova-lite-v1:0", *[Throttle()] * 3)
    handler = load_handler("worker")
    answer = handler.lambda_handler(event, context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert cloud.client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING"
    cloud.client("stepfunctions").stop_execution(executionArn=execution)


def test_work_the_flow_no_longer_waits_for_is_dropped(cloud: LocalCloud, context: Context) -> None:
    # Given a message whose flow gave up waiting (its TimeoutSeconds passed)
    execution, event, _ = start_and_receive(cloud, PARAGRAPH.format(n=1), "long-4", timeout_seconds=2)
    assert cloud.wait_for_execution(execution, timeout=20)["status"] == "FAILED"
    # When the worker takes it
    answer = load_handler("worker").lambda_handler(event, context)
    # Then the message is done (no retries to the DLQ), and no model was paid for it
    assert answer == {"batchItemFailures": []}
    assert cloud.model.calls == []


def test_a_redelivered_message_resumes_at_the_first_chunk_not_yet_summarized(
    cloud: LocalCloud, context: Context
) -> None:
    from localcloud.model import Throttle

    # Given a two-chunk document whose first chunk is summarized before every model throttles
    text = "\n\n".join(PARAGRAPH.format(n=n) for n in range(4))
    execution, event, _ = start_and_receive(cloud, text, "long-5")
    primary, fallback = "amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0"
    cloud.model.script(primary, json.dumps({"summary": "The first half."}), Throttle(), Throttle())
    cloud.model.script(fallback, Throttle(), Throttle())
    handler = load_handler("worker")
    # When the first delivery fails on the second chunk
    failed = handler.lambda_handler(event, context)
    assert failed == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    paid = [c for c in cloud.model.calls if c.outcome != "throttled"]
    assert len(paid) == 1
    # And SQS brings the message back
    again = handler.lambda_handler(event, context)
    # Then only the second chunk is summarized (and paid for) again, and the flow gets both halves
    assert again == {"batchItemFailures": []}
    assert len([c for c in cloud.model.calls if c.outcome != "throttled"]) == 2
    described = cloud.wait_for_execution(execution, timeout=10)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["chunks"] == 2 and output["summary"].startswith("The first half.")
