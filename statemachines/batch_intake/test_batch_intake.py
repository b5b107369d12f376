"""batch_intake in the local cloud: 200 documents, a few poisoned, none lost; past the tolerance, still told.

python -m pytest statemachines/batch_intake
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from aiflows.testing import drained, execution_of, finished, of_type
from localcloud import Deployment, LocalCloud

# 200 documents, ten children at once, take both cores for a minute and more: run alone (make test)
pytestmark = pytest.mark.alone
# Ten cold execution environments per function start side by side on the machine's two cores:
# a Task's timeout keeps 30 s of real time (on AWS each child's Lambda has a core of its own).
LOCAL_CLOUD = {"time_scale": 0.01, "timeout_floor": 30.0}
DOCUMENTS = 200
STATE_MACHINE = "BatchIntakeStateMachineArn"


def document(i: int, tenant: str = "acme") -> dict[str, Any]:
    return {
        "document_id": f"doc-{i:03d}",
        "tenant": tenant,
        "title": f"Invoice {i}",
        "text": f"Invoice INV-{i:04d} from Acme Ltd, dated 2026-11-{1 + i % 28:02d}: due EUR {100 + i}.00.",
    }


def submit_batch(
    cloud: LocalCloud, app: Deployment, batch_id: str, lines: list[Any]
) -> tuple[str, dict[str, Any]]:
    """Put the documents in the claim bucket, one JSON line each, then the batch on the bus."""
    key = f"batches/{batch_id}/documents.jsonl"
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    cloud.client("s3").put_object(Bucket=app.outputs["ClaimBucketName"], Key=key, Body=body.encode())
    detail = {"batch_id": batch_id, "tenant": "acme", "manifest_key": key}
    put = cloud.client("events").put_events(
        Entries=[
            {
                "EventBusName": app.outputs["EventBusName"],
                "Source": "aiflows.batches",
                "DetailType": "batch.submitted",
                "Detail": json.dumps(detail),
            }
        ]
    )
    event_id = put["Entries"][0]["EventId"]
    return event_id, execution_of(cloud, app, event_id, flow="batch_intake")


def test_every_document_is_processed_or_listed_as_failed_with_its_error(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]]
) -> None:
    # Given 200 documents, five of them poisoned: a bad id, no text, a PDF, another tenant's (twice)
    lines: list[Any] = [document(i) for i in range(DOCUMENTS)]
    lines[17] = {**document(17), "document_id": "bad id with spaces"}
    lines[42] = {k: v for k, v in document(42).items() if k != "text"}
    lines[99] = document(99, tenant="globex")
    lines[150] = document(150, tenant="initech")
    lines[181] = {**document(181), "content_type": "application/pdf"}
    started = time.perf_counter()
    event_id, execution = submit_batch(cloud, app, "batch-200", lines)
    # When the batch runs
    done = finished(cloud, execution, timeout=300)
    seconds = time.perf_counter() - started
    # Then it succeeds, within its tolerance, and its account lists every document
    assert done["status"] == "SUCCEEDED", done.get("cause")
    [completed] = of_type(drained(cloud, bus_events), "batch.completed", event_id)
    details = completed["detail"]["details"]
    assert completed["detail"]["subject"] == {"id": "batch-200", "kind": "batch"}, details
    assert (details["documents"], details["processed"], details["failed"], details["not_started"]) == (
        DOCUMENTS,
        DOCUMENTS - 5,
        5,
        0,
    )
    assert details["within_tolerance"] is True
    failed = {f["document_id"]: f["error"] for f in details["failures"]}
    assert failed == {
        "bad id with spaces": "InvalidInput",
        "doc-042": "InvalidInput",
        "doc-099": "WrongTenant",
        "doc-150": "WrongTenant",
        "doc-181": "InvalidInput",
    }
    assert all(f["cause"] for f in details["failures"]), details["failures"]
    # And the processed documents' model calls are what the batch cost
    assert details["cost_usd"] > 0
    # And the result files hold each processed document's label and fields
    s3 = cloud.client("s3")
    manifest = json.loads(
        s3.get_object(Bucket=app.outputs["ClaimBucketName"], Key=completed["detail"]["reference"])[
            "Body"
        ].read()
    )
    succeeded = [
        record
        for listed in manifest["ResultFiles"]["SUCCEEDED"]
        for record in json.loads(
            s3.get_object(Bucket=manifest["DestinationBucket"], Key=listed["Key"])["Body"].read()
        )
    ]
    outputs = {json.loads(r["Output"])["document_id"]: json.loads(r["Output"]) for r in succeeded}
    assert len(outputs) == DOCUMENTS - 5 and {"label", "fields", "cost_usd"} <= set(outputs["doc-000"])
    print(f"\nbatch_intake: {DOCUMENTS} documents in {seconds:.1f} s, {DOCUMENTS / seconds:.1f} documents/s")


def test_past_its_tolerance_a_batch_fails_and_still_announces_its_account(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]]
) -> None:
    # Given a batch of ten documents, three of them another tenant's (over a tenth)
    lines: list[Any] = [document(i) for i in range(10)]
    for i in (2, 5, 8):
        lines[i] = document(i, tenant="globex")
    event_id, execution = submit_batch(cloud, app, "batch-bad", lines)
    # When it runs
    done = finished(cloud, execution, timeout=120)
    # Then the run fails as TooManyFailures, and batch.completed still says what became of each document
    assert (done["status"], done.get("error")) == ("FAILED", "TooManyFailures")
    [completed] = of_type(drained(cloud, bus_events), "batch.completed", event_id)
    details = completed["detail"]["details"]
    assert details["within_tolerance"] is False
    assert details["processed"] + details["failed"] + details["not_started"] == details["documents"] == 10
    assert {f["document_id"] for f in details["failures"] if f["status"] != "PENDING"} >= {"doc-002"}
