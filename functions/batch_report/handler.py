"""batch_report: a batch's account, from the result files its Distributed Map wrote."""

import json
from typing import Any

from aiflows_runtime.clients import client
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.errors import InvalidInput
from aiflows_runtime.observability import capability_handler
from aiflows_runtime.settings import settings

from . import logic
from .contract import FAILURES_LISTED, BatchReportInput, BatchReportOutput

CAPABILITY = "batch_report"


def latest_manifest(s3: Any, bucket: str, prefix: str) -> str:
    """The newest ``manifest.json`` under the prefix, a run's own: its Map Run's (a redrive's, if one ran)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
    manifests = [o for page in pages for o in page.get("Contents", []) if o["Key"].endswith("/manifest.json")]
    if not manifests:
        raise InvalidInput(f"no ResultWriter manifest under s3://{bucket}/{prefix}")
    return str(max(manifests, key=lambda o: o["LastModified"])["Key"])


def read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_input(event, BatchReportInput)
    bucket = settings().claim_bucket
    if not bucket:
        raise RuntimeError("batch_report needs CLAIM_BUCKET, where the batch's results are")
    s3 = client("s3")
    manifest_key = latest_manifest(s3, bucket, request.results_prefix)
    manifest = read_json(s3, bucket, manifest_key)
    files = {
        status: [read_json(s3, bucket, str(f["Key"])) for f in listed]
        for status, listed in (manifest.get("ResultFiles") or {}).items()
    }
    by_status = logic.records_by_status(files)
    failures = logic.failures(by_status)
    processed = by_status.get("SUCCEEDED", [])
    return BatchReportOutput(
        batch_id=request.batch_id,
        tenant=request.tenant,
        documents=len(processed) + len(failures),
        processed=len(processed),
        failed=sum(1 for f in failures if f.status != "PENDING"),
        not_started=sum(1 for f in failures if f.status == "PENDING"),
        failures=failures[:FAILURES_LISTED],
        failures_not_listed=max(0, len(failures) - FAILURES_LISTED),
        cost_usd=logic.cost_usd(processed),
        within_tolerance=request.within_tolerance,
        manifest_key=manifest_key,
    ).model_dump()
