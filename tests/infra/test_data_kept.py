"""Data kept: what a stack deletion does to the data, in each stage (infra/stage.py).

A deploy that names no stage is prod: the state table, the reviewers' user pool and the
claim bucket outlive the stack, the table and the pool behind deletion protection. The
dev stage (``-c stage=dev``) destroys cleanly: everything goes, the claim bucket emptied first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from infra.constructs.claim_bucket import AUTO_DELETE_PROVIDER
from infra.nag import findings
from infra.stage import DEV, DEVELOPMENT, PROD, PRODUCTION, STAGE_CONTEXT, stage_from
from tests.infra.conftest import Synthesized, refused_synth

ROOT = Path(__file__).resolve().parents[2]

# What each stage does to a resource that holds data, written out as CloudFormation says it
KEPT = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
DELETED = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
EXPECTED = {
    "prod": {"policies": KEPT, "table_protection": True, "pool_protection": "ACTIVE", "auto_delete": False},
    "dev": {
        "policies": DELETED,
        "table_protection": False,
        "pool_protection": "INACTIVE",
        "auto_delete": True,
    },
}
AUTO_DELETE_TAG = {"Key": "aws-cdk:auto-delete-objects", "Value": "true"}


@pytest.fixture(params=["prod", "dev"])
def staged(request: pytest.FixtureRequest) -> tuple[str, Synthesized]:
    """The app as each stage synthesizes it: prod by naming no stage, dev by ``-c stage=dev``."""
    fixture = "synthesized" if request.param == "prod" else "synthesized_dev"
    return request.param, request.getfixturevalue(fixture)


def resources(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.template.to_json()["Resources"]


def policies(resource: dict[str, Any]) -> dict[str, str | None]:
    return {key: resource.get(key) for key in ("DeletionPolicy", "UpdateReplacePolicy")}


def test_a_deploy_that_names_no_stage_is_prod_and_keeps_the_data() -> None:
    # Given no stage value, or each stage's name
    # Then no value is prod, under the policy that keeps the data; dev is the development policy
    assert stage_from(cdk.App().node) == PROD
    assert PROD.policy is PRODUCTION and DEV.policy is DEVELOPMENT
    assert stage_from(cdk.App(context={STAGE_CONTEXT: "dev"}).node) == DEV


def test_a_synth_with_a_bad_stage_fails_with_the_key_and_the_fix_not_a_trace(tmp_path: Path) -> None:
    # Given `cdk synth -c stage=Production`: the CLI hands its context to the app in CDK_CONTEXT_JSON
    printed = refused_synth(tmp_path, {STAGE_CONTEXT: "Production"})
    # Then synth fails with one line naming the key, the value and what a name may be, and no stack trace
    assert re.search(
        r"^error: context stage='Production' is not a resource prefix: .+ lowercase letters .+ "
        r"\(e\.g\. -c stage=dev .+\); without -c stage, the stage is prod$",
        printed,
        flags=re.MULTILINE,
    ), printed[-2000:]


def test_the_state_table_is_recoverable_expires_items_and_is_kept_by_stage(
    staged: tuple[str, Synthesized],
) -> None:
    # Given the state table of a stage
    stage, synthesized = staged
    table = resources(synthesized)[synthesized.logical_id(synthesized.stack.state_table.table)]
    properties = table["Properties"]
    # Then in every stage it has point-in-time recovery, and items expire on `expiration`
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # And the stage decides whether it outlives the stack (and a replacement), behind deletion protection
    assert policies(table) == EXPECTED[stage]["policies"]
    assert properties["DeletionProtectionEnabled"] is EXPECTED[stage]["table_protection"]


def test_the_reviewers_user_pool_is_kept_by_stage(staged: tuple[str, Synthesized]) -> None:
    # Given the reviewers' user pool of a stage
    stage, synthesized = staged
    pool = resources(synthesized)[synthesized.logical_id(synthesized.stack.review_api.user_pool)]
    # Then the stage decides whether it outlives the stack, behind deletion protection
    assert policies(pool) == EXPECTED[stage]["policies"]
    assert pool["Properties"]["DeletionProtection"] == EXPECTED[stage]["pool_protection"]


def test_the_claim_bucket_expires_every_object_and_aborts_stale_uploads_in_every_stage(
    staged: tuple[str, Synthesized],
) -> None:
    # Given the claim bucket of a stage
    _, synthesized = staged
    bucket = resources(synthesized)[synthesized.logical_id(synthesized.stack.claim_bucket.bucket)]
    properties = bucket["Properties"]
    # Then one rule, on the whole bucket (no prefix or tag filter: claims, redacted copies and
    # batch results alike), expires objects after 30 days and aborts uploads left incomplete a day
    assert properties["LifecycleConfiguration"] == {
        "Rules": [
            {
                "Id": "ExpireClaims",
                "Status": "Enabled",
                "ExpirationInDays": 30,
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }
    # And the bucket is not versioned: no noncurrent version outlives its object's expiry
    assert "VersioningConfiguration" not in properties


def test_in_prod_the_claim_bucket_is_kept_with_its_objects(synthesized: Synthesized) -> None:
    # Given the claim bucket of a deploy that names no stage
    bucket = resources(synthesized)[synthesized.logical_id(synthesized.stack.claim_bucket.bucket)]
    # Then it outlives the stack, and nothing empties it: its objects go on expiring
    assert policies(bucket) == KEPT
    assert "Tags" not in bucket["Properties"]
    assert not [r for r in resources(synthesized).values() if r["Type"].startswith("Custom::")]
    assert synthesized.stack.node.try_find_child(AUTO_DELETE_PROVIDER) is None


def test_in_dev_the_claim_bucket_is_emptied_then_deleted_with_the_stack(synthesized_dev: Synthesized) -> None:
    # Given the claim bucket of the dev stage
    found = resources(synthesized_dev)
    bucket_id = synthesized_dev.logical_id(synthesized_dev.stack.claim_bucket.bucket)
    bucket = found[bucket_id]
    # Then it goes with the stack, tagged for the CDK's auto-delete handler to empty it
    assert policies(bucket) == DELETED
    assert bucket["Properties"]["Tags"] == [AUTO_DELETE_TAG]
    # And one auto-delete custom resource names it, served by the CDK's handler
    (auto_delete_id,) = [k for k, r in found.items() if r["Type"] == "Custom::S3AutoDeleteObjects"]
    auto_delete = found[auto_delete_id]
    assert auto_delete["Properties"]["BucketName"] == {"Ref": bucket_id}
    (handler_id,) = [
        k
        for k, r in found.items()
        if k.startswith("CustomS3AutoDeleteObjectsCustomResourceProvider")
        and r["Type"] == "AWS::Lambda::Function"
    ]
    assert auto_delete["Properties"]["ServiceToken"] == {"Fn::GetAtt": [handler_id, "Arn"]}
    # And the bucket policy lets that handler's role delete the objects, and no one else
    (policy,) = [r for r in found.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    allowed = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    role_id = found[handler_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert [s["Principal"] for s in allowed] == [{"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}]
    assert set(allowed[0]["Action"]) == {
        "s3:DeleteObject*",
        "s3:GetBucket*",
        "s3:List*",
        "s3:PutBucketPolicy",
    }
    # And the handler logs into a group of the stack, created before its first run and deleted after
    # its last, so that Lambda never makes one outside the stack that a destroy would leave behind
    (logs_id,) = [
        k
        for k, r in found.items()
        if r["Type"] == "AWS::Logs::LogGroup"
        and r["Properties"].get("LogGroupName") == {"Fn::Join": ["", ["/aws/lambda/", {"Ref": handler_id}]]}
    ]
    assert logs_id in auto_delete["DependsOn"]
    assert policies(found[logs_id]) == DELETED


def test_every_log_group_goes_with_the_stack_in_every_stage(staged: tuple[str, Synthesized]) -> None:
    # Given every log group of a stage (the functions', the flows', the API's access logs)
    _, synthesized = staged
    groups = {k: r for k, r in resources(synthesized).items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) > len(synthesized.stack.functions) + len(synthesized.stack.flows)
    # Then each is deleted with the stack: a flow's group has a fixed name, which a retained group
    # would hold, failing the next create of the same stack
    for logical_id, group in groups.items():
        assert policies(group) == DELETED, logical_id
        assert group["Properties"]["RetentionInDays"] == 30, logical_id


def test_prod_retains_exactly_the_data_and_dev_nothing(staged: tuple[str, Synthesized]) -> None:
    # Given every resource a stack deletion would leave behind (DeletionPolicy Retain)
    stage, synthesized = staged
    stack = synthesized.stack
    retained = {k for k, r in resources(synthesized).items() if r.get("DeletionPolicy") == "Retain"}
    # Then they are the flows' published versions (which Step Functions deletes with their state
    # machine: infra/constructs/flow.py) and, in prod only, the three resources that hold data and
    # the alerts topic's key (whose deletion could not be undone)
    versions = {stack.get_logical_id(flow.version) for flow in stack.flows.values()}
    kept_in_prod = {
        synthesized.logical_id(stack.state_table.table),
        synthesized.logical_id(stack.review_api.user_pool),
        synthesized.logical_id(stack.claim_bucket.bucket),
        *(k for k, r in resources(synthesized).items() if r["Type"] == "AWS::KMS::Key"),
    }
    assert len(kept_in_prod) == 4
    assert retained == (versions | kept_in_prod if stage == "prod" else versions)


def _without_asset_hashes(resource: dict[str, Any]) -> str:
    # an asset's key is its content's hash: another synth of a tree being edited may differ there
    return re.sub(r'"[0-9a-f]{64}\.zip"', '"<asset>"', json.dumps(resource, sort_keys=True))


def test_the_policies_differ_only_in_the_data_the_sign_in_and_the_alarms(
    synthesized: Synthesized, synthesized_prod_as_development: Synthesized
) -> None:
    # Given the stack AiFlows under each policy (-c stage_policy=development: how prod is torn down)
    prod, dev = resources(synthesized), resources(synthesized_prod_as_development)
    stack = synthesized.stack
    # Then development adds the auto-delete custom resource, its provider's role, function and log group
    added = {k: r["Type"] for k, r in dev.items() if k not in prod}
    assert sorted(added.values()) == sorted(
        ["Custom::S3AutoDeleteObjects", "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Logs::LogGroup"]
    )
    assert set(prod) <= set(dev)
    # And of the rest, only the table, the user pool, the bucket and its policy, the key and the alarms differ
    changed = {k for k in prod if _without_asset_hashes(prod[k]) != _without_asset_hashes(dev[k])}
    (policy_id,) = [k for k, r in prod.items() if r["Type"] == "AWS::S3::BucketPolicy"]
    (key_id,) = [k for k, r in prod.items() if r["Type"] == "AWS::KMS::Key"]
    alarms = {synthesized.logical_id(alarm) for alarm in stack.monitoring.alarms}
    assert changed == {
        synthesized.logical_id(stack.state_table.table),
        synthesized.logical_id(stack.review_api.user_pool),
        synthesized.logical_id(stack.claim_bucket.bucket),
        policy_id,
        key_id,
        *alarms,
    }
    # And each alarm differs only in notifying nobody
    for alarm in alarms:
        assert dev[alarm]["Properties"] == {**prod[alarm]["Properties"], "ActionsEnabled": False}, alarm
        assert prod[alarm]["Properties"]["ActionsEnabled"] is True


def test_the_user_pool_blocks_risky_sign_ins_under_production_only(
    synthesized: Synthesized, synthesized_dev: Synthesized
) -> None:
    # Given the reviewers' user pool of each policy
    def pool(synthesized: Synthesized) -> dict[str, Any]:
        return resources(synthesized)[synthesized.logical_id(synthesized.stack.review_api.user_pool)][
            "Properties"
        ]

    # Then production is on the Plus tier with threat protection enforced; development on Essentials, without
    assert pool(synthesized)["UserPoolTier"] == "PLUS"
    assert pool(synthesized)["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert pool(synthesized_dev)["UserPoolTier"] == "ESSENTIALS"
    assert "UserPoolAddOns" not in pool(synthesized_dev)
    # And both require MFA
    assert pool(synthesized)["MfaConfiguration"] == pool(synthesized_dev)["MfaConfiguration"] == "ON"


def test_the_dev_stage_leaves_no_nag_finding_unacknowledged(synthesized_dev: Synthesized) -> None:
    # Given the dev stage, with the CDK's auto-delete handler in it
    found = findings(synthesized_dev.assembly_dir)
    # Then cdk-nag finds nothing there either
    assert found == [], "\n".join(str(f) for f in found)


@pytest.mark.parametrize("doc", ["README.md", "docs/operations.md"])
def test_the_deploy_docs_name_the_stage_switch_and_how_to_destroy_dev(doc: str) -> None:
    # Given a page that documents deploying
    text = (ROOT / doc).read_text()
    # Then it names both stages' flags, the default, and the clean destroy of a dev stack
    for stage in (PROD, DEV):
        assert f"-c {STAGE_CONTEXT}={stage.name}" in text, f"{doc}: name `-c {STAGE_CONTEXT}={stage.name}`"
    assert "npx cdk destroy -c stage=dev" in text, doc
