"""The smaller constructs: the work queue's worker, the claim bucket's grants, the corpus asset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.claim_bucket import ClaimBucket
from infra.constructs.corpus import Corpus
from infra.constructs.work_queue import WORKER_TIMEOUT, WorkQueue
from infra.nag import REPORT_ONLY, apply_nag, findings


def test_a_worker_slower_than_the_queue_allows_is_refused(stack: cdk.Stack, echo_code: Path) -> None:
    # Given the work queue, and a worker whose timeout is over WORKER_TIMEOUT
    queue = WorkQueue(stack, "Work")
    slow = CapabilityFunction(
        stack,
        "SlowFunction",
        capability="slow",
        code_dir=echo_code,
        timeout=cdk.Duration.seconds(WORKER_TIMEOUT.to_seconds() + 1),
    )
    # Then it cannot be fed by the queue: a message would come back while it still works
    with pytest.raises(ValueError, match="at most 60 s"):
        queue.add_worker(slow.function)


def test_claim_grants_are_object_calls_on_the_bucket_and_acknowledged_where_made(
    tmp_path: Path, echo_code: Path
) -> None:
    # Given the claim bucket, a function that reads claims and one that also writes them, with cdk-nag
    app = cdk.App(outdir=str(tmp_path), context=REPORT_ONLY)
    stack = cdk.Stack(app, "Claims")
    claims = ClaimBucket(stack, "ClaimBucket")
    reader = CapabilityFunction(stack, "ReaderFunction", capability="reader", code_dir=echo_code)
    writer = CapabilityFunction(stack, "WriterFunction", capability="writer", code_dir=echo_code)
    claims.grant_read(reader)
    claims.grant_read_write(writer)
    apply_nag(app)
    # When the app is synthesized
    assembly = Path(app.synth().directory)
    resources = json.loads((assembly / "Claims.template.json").read_text())["Resources"]
    bucket_id = stack.get_logical_id(claims.bucket.node.default_child)  # type: ignore[arg-type]
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}

    def policy_of(function: CapabilityFunction) -> dict[str, Any]:
        default_policy = function.role.node.find_child("DefaultPolicy").node.default_child
        return resources[stack.get_logical_id(default_policy)]  # type: ignore[arg-type, no-any-return]

    def s3_statements(function: CapabilityFunction) -> list[dict[str, Any]]:
        statements = policy_of(function)["Properties"]["PolicyDocument"]["Statement"]
        return [s for s in statements if "s3:" in json.dumps(s["Action"])]

    # Then the reader may get objects, the writer get and put them: no bucket-level or list actions
    assert s3_statements(reader) == [{"Action": "s3:GetObject", "Effect": "Allow", "Resource": objects}]
    assert s3_statements(writer) == [
        {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow", "Resource": objects}
    ]
    # And the object wildcard is acknowledged on each grantee's policy, under its exact finding id
    finding = f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]"
    for function in (reader, writer):
        rules = policy_of(function)["Metadata"]["cdk_nag"]["rules_to_suppress"]
        assert finding in {r["id"] for r in rules}
    # And cdk-nag reports nothing about the bucket or the grants
    assert not [f for f in findings(assembly) if "ClaimBucket" in str(f) or "IAM5" in f.rule]


def test_the_corpus_is_its_folder_and_grants_its_one_object(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path
) -> None:
    # Given a corpus folder and a function that reads it
    (tmp_path / "policy.md").write_text("# Policy\n\nInvoices are paid in 30 days.\n")
    corpus = Corpus(stack, "Corpus", folder=tmp_path)
    reader = CapabilityFunction(stack, "RetrieveFunction", capability="retrieve", code_dir=echo_code)
    corpus.grant_read(reader.function)
    # Then its environment names the asset's bucket and key, and the grant is that object only
    key = stack.resolve(corpus.asset.s3_object_key)
    assert key.endswith(".zip")
    assert stack.resolve(corpus.environment["CORPUS_KEY"]) == key
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (get,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert get["Resource"]["Fn::Join"][1][-1] == f"/{key}"
