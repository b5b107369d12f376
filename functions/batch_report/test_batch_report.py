"""batch_report's logic, and how it reads a Map Run's result files: python -m pytest functions/batch_report"""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto import mock_aws

from aiflows.registry import capability_module

logic = capability_module("batch_report", "logic")
handler = capability_module("batch_report", "handler")


def record(document_id: str | None, status: str, output: Any = None, **failure: str) -> dict[str, Any]:
    """A child execution's record as ResultWriter writes it: input and output as JSON text."""
    item = {"correlation_id": "b-1:x", "document": {"document_id": document_id}} if document_id else {"x": 1}
    found: dict[str, Any] = {"Input": json.dumps(item), "Status": status, **failure}
    if output is not None:
        found["Output"] = json.dumps(output)
    return found


FILES = {
    "SUCCEEDED": [
        [record("d-1", "SUCCEEDED", {"cost_usd": 0.0012}), record("d-2", "SUCCEEDED", {"cost_usd": 0.0003})]
    ],
    "FAILED": [
        [
            record("d-3", "FAILED", Error="InvalidInput", Cause="document_id: does not match"),
            record(None, "TIMED_OUT", Error="States.Timeout"),
        ]
    ],
    "PENDING": [[record("d-5", "PENDING")]],
}


def test_every_record_not_a_success_is_a_failure_with_its_error() -> None:
    failures = logic.failures(logic.records_by_status(FILES))
    assert [(f.document_id, f.status, f.error, f.cause) for f in failures] == [
        ("d-3", "FAILED", "InvalidInput", "document_id: does not match"),
        (None, "TIMED_OUT", "States.Timeout", None),
        ("d-5", "PENDING", None, None),
    ]


def test_the_cost_is_the_sum_of_the_processed_documents_costs() -> None:
    processed = logic.records_by_status(FILES)["SUCCEEDED"]
    assert logic.cost_usd(processed) == 0.0015
    assert logic.cost_usd([record("d-9", "SUCCEEDED", {"label": "no cost given"})]) == 0.0


@mock_aws
def test_the_report_finds_the_map_runs_manifest_under_the_prefix_and_reads_its_files() -> None:
    # Given the result files of a batch's Map Run, under the run's own prefix (a Map Run id below it)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="claims")
    listed: dict[str, list[dict[str, Any]]] = {}
    for status, contents in FILES.items():
        key = f"batches/b-1/exec-1/2f1c/{status}_0.json"
        s3.put_object(Bucket="claims", Key=key, Body=json.dumps(contents[0]).encode())
        listed[status] = [{"Key": key, "Size": 1}]
    manifest = {"DestinationBucket": "claims", "MapRunArn": "arn:map-run", "ResultFiles": listed}
    s3.put_object(Bucket="claims", Key="batches/b-1/exec-1/2f1c/manifest.json", Body=json.dumps(manifest))
    s3.put_object(Bucket="claims", Key="batches/b-1/exec-10/9a9a/manifest.json", Body=b"{}")  # another run
    # When the report looks for the manifest under the run's prefix, and reads what it lists
    key = handler.latest_manifest(s3, "claims", "batches/b-1/exec-1")
    files = {
        status: [handler.read_json(s3, "claims", f["Key"]) for f in found]
        for status, found in handler.read_json(s3, "claims", key)["ResultFiles"].items()
    }
    # Then it is this run's manifest (not the run whose prefix merely begins the same), and its records
    assert key == "batches/b-1/exec-1/2f1c/manifest.json"
    assert files == FILES


@mock_aws
def test_a_prefix_without_results_is_an_invalid_input_not_an_empty_report() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="claims")
    try:
        handler.latest_manifest(s3, "claims", "batches/missing")
    except Exception as exc:  # the error's name is what a flow's Catch matches
        assert type(exc).__name__ == "InvalidInput"
        assert "no ResultWriter manifest under s3://claims/batches/missing" in str(exc)
    else:
        raise AssertionError("a prefix without a manifest must not report an empty batch")
