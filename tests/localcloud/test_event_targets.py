"""EventBridge rule targets in the local cloud, delivered as EventBridge delivers them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud import LocalCloud

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=0.01) as running:
        yield running


def _rule_to(cloud: LocalCloud, name: str, *targets: dict[str, Any]) -> None:
    events = cloud.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))
    events.put_targets(Rule=name, Targets=list(targets))


def _put(cloud: LocalCloud, source: str, detail: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = cloud.client("events").put_events(
        Entries=[{"Source": source, "DetailType": "thing.happened", "Detail": json.dumps(detail)}]
    )
    return answer


def _received(
    cloud: LocalCloud, queue_url: str, count: int = 1, timeout: float = 10.0
) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
    return got


def _queue(cloud: LocalCloud, name: str, **attributes: str) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_an_sqs_target_receives_the_event_as_the_message_body(cloud: LocalCloud) -> None:
    """EventBridge: an SQS queue target gets the event (or its transformed input) as the message body."""
    url, arn = _queue(cloud, "to-sqs")
    _rule_to(cloud, "to-sqs", {"Id": "q", "Arn": arn})
    assert _put(cloud, "to-sqs", {"n": 1})["FailedEntryCount"] == 0
    [message] = _received(cloud, url)
    body = json.loads(message["Body"])
    assert (
        body["detail"] == {"n": 1} and body["source"] == "to-sqs" and body["detail-type"] == "thing.happened"
    )


def test_a_fifo_queue_target_gets_the_targets_message_group(cloud: LocalCloud) -> None:
    """EventBridge: a FIFO queue target needs SqsParameters.MessageGroupId; messages carry that group."""
    url, arn = _queue(cloud, "to-fifo.fifo", FifoQueue="true")
    _rule_to(cloud, "to-fifo", {"Id": "q", "Arn": arn, "SqsParameters": {"MessageGroupId": "tenant-a"}})
    _put(cloud, "to-fifo", {"n": 2})
    [message] = _received(cloud, url)
    assert message["Attributes"]["MessageGroupId"] == "tenant-a"
    assert json.loads(message["Body"])["detail"] == {"n": 2}


def test_an_sns_target_publishes_the_event_without_failing_put_events(cloud: LocalCloud) -> None:
    """EventBridge: an SNS topic target publishes the event; PutEvents answers for the bus, not the target."""
    sns = cloud.client("sns")
    topic = sns.create_topic(Name="to-sns")["TopicArn"]
    url, queue_arn = _queue(cloud, "from-sns")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    _rule_to(
        cloud,
        "to-sns",
        {
            "Id": "t",
            "Arn": topic,
            "InputTransformer": {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": '{"count": <n>}'},
        },
    )
    assert _put(cloud, "to-sns", {"n": 3})["FailedEntryCount"] == 0
    [message] = _received(cloud, url)
    assert json.loads(message["Body"]) == {"count": 3}


def test_a_target_that_cannot_be_delivered_to_goes_to_its_dead_letter_queue(cloud: LocalCloud) -> None:
    """EventBridge: an event it cannot deliver to a target goes to the target's dead-letter queue."""
    dlq_url, dlq_arn = _queue(cloud, "target-dlq")
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue"
    kinesis = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/not-delivered-locally"
    _rule_to(
        cloud,
        "to-nowhere",
        {"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}},
        {"Id": "kinesis", "Arn": kinesis, "DeadLetterConfig": {"Arn": dlq_arn}},
    )
    assert _put(cloud, "to-nowhere", {"n": 4})["FailedEntryCount"] == 0
    dead = _received(cloud, dlq_url, count=2)
    assert [json.loads(m["Body"])["detail"] for m in dead] == [{"n": 4}, {"n": 4}]
    assert {f["target"] for f in cloud.delivery_failures} >= {missing, kinesis}
