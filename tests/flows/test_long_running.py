"""Long documents: the claim check, the SQS worker with heartbeats, and a worker that dies."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiflows.flows import read_sample
from localcloud import Deployment, LocalCloud
from localcloud.model import Timeout

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "statemachines" / "document_intake" / "events"  # the flow's sample events
INVOICE = read_sample(SAMPLES / "clear.json")
MARKER = "Northwind-line-item"
STATE_LIMIT = 256 * 1024
# Heartbeats guard real work (a cold start, a chunk): give them 10 s on a busy machine.
LOCAL_CLOUD = {"time_scale": 0.01, "timeout_floor": 10.0}


def long_text(kilobytes: int) -> str:
    paragraph = f"Invoice line {MARKER}: payment of the amount due, total 10.00 EUR including VAT. " * 12
    count = kilobytes * 1024 // len(paragraph) + 1
    return "\n\n".join(paragraph for _ in range(count))


def start(cloud: LocalCloud, app: Deployment, detail: dict[str, Any], name: str) -> str:
    event = {
        "version": "0",
        "id": name,
        "detail-type": "document.submitted",
        "source": "aiflows.documents",
        "account": cloud.account,
        "time": "2026-11-24T00:00:00Z",
        "region": cloud.region,
        "resources": [],
        "detail": detail,
    }
    return cloud.client("stepfunctions").start_execution(
        stateMachineArn=app.outputs["DocumentIntakeAliasArn"], name=name, input=json.dumps(event)
    )["executionArn"]


def history(cloud: LocalCloud, arn: str) -> list[dict[str, Any]]:
    return cloud.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]


def assert_small_states(events: list[dict[str, Any]], text: str) -> None:
    """Nothing over the limit crossed a state, and after Validate no state carried the text.

    The run's input is the event, text and all; from the Intake state on, the run
    carries the claim-checked reference. A 2 KB slice of the text is long enough to
    tell the text from a summary quoting it.
    """
    slice_of_text = text[1000:3048]
    validated = False
    for event in events:
        if event["type"] == "PassStateEntered" and event["stateEnteredEventDetails"]["name"] == "Intake":
            validated = True
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output"):
                    payload = details.get(field) or ""
                    assert len(payload.encode()) < STATE_LIMIT, (
                        f"{event['type']} carries {len(payload)} bytes"
                    )
                    if validated:
                        assert slice_of_text not in payload, f"{event['type']} carries the document's text"


def test_a_large_document_goes_to_the_worker_over_sqs(cloud: LocalCloud, app: Deployment) -> None:
    # Given a document over the long-running size, inline in its event
    text = long_text(80)
    detail = {**INVOICE["Detail"], "document_id": "large-1", "text": text}
    arn = start(cloud, app, detail, "large-1")
    # When it runs
    done = cloud.wait_for_execution(arn, timeout=120)
    # Then the worker summarized it, chunk by chunk, and the flow went on to act
    assert done["status"] == "SUCCEEDED", done.get("cause")
    events = history(cloud, arn)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert "LongRunningSummary" in entered and "Summarize" not in entered
    summarize_calls = [c for c in cloud.model.calls if c.prompt_id == "worker/v1"]
    assert len(summarize_calls) >= 10  # 80 KB in 8 KB chunks
    # And the text travelled by reference: no state carried it
    assert_small_states(events, text)


def test_a_payload_over_256_kb_is_handled_by_reference(cloud: LocalCloud, app: Deployment) -> None:
    # Given a producer that put a 300 KB text in the claim bucket and sent its reference
    text = long_text(300)
    bucket = app.outputs["ClaimBucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key="inbox/huge-1.txt", Body=text.encode())
    detail = {
        **INVOICE["Detail"],
        "document_id": "huge-1",
        "text": None,
        "text_ref": {"bucket": bucket, "key": "inbox/huge-1.txt"},
    }
    del detail["text"]
    arn = start(cloud, app, detail, "huge-1")
    done = cloud.wait_for_execution(arn, timeout=180)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    events = history(cloud, arn)
    assert_small_states(events, text)
    started = next(e for e in events if e["type"] == "ExecutionStarted")
    assert len(started["executionStartedEventDetails"]["input"]) < 2048  # the event held only the reference


def test_a_worker_that_dies_stops_heartbeating_and_the_flow_retries(
    cloud: LocalCloud, app: Deployment
) -> None:
    # Given the worker is busy on a long document, its first model call slow
    cloud.model.script("amazon.nova-micro-v1:0", Timeout(4.0))
    arn = start(cloud, app, {**INVOICE["Detail"], "document_id": "crash-1", "text": long_text(70)}, "crash-1")
    worker = app.outputs["WorkerFunctionName"]
    assert cloud.lambdas is not None
    deadline = time.monotonic() + 60
    while not any(c.outcome == "timeout" for c in cloud.model.calls) and time.monotonic() < deadline:
        time.sleep(0.02)  # until the worker is inside its slow first model call
    # When its execution environment dies mid-work
    assert cloud.lambdas.crash(worker) >= 1
    # Then the heartbeat times out, the Retry sends the work again, and the run completes
    done = cloud.wait_for_execution(arn, timeout=180)
    timeline = [
        (
            e["timestamp"].strftime("%X.%f")[:12],
            e["type"],
            next((v for k, v in e.items() if k.endswith("EventDetails")), {}),
        )
        for e in history(cloud, arn)
        if "Failed" in e["type"] or "TimedOut" in e["type"] or "Task" in e["type"]
    ]
    assert done["status"] == "SUCCEEDED", "\n".join(str(t)[:300] for t in timeline)
    timeouts = [e for e in history(cloud, arn) if e["type"] == "TaskTimedOut"]
    assert timeouts and timeouts[0]["taskTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"
