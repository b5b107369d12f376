"""Deleting a stack in the local cloud: what each stage keeps, and the CDK's auto-delete resource.

The local cloud deploys the assembly of either stage (infra/stage.py); a stack deletion
then does what CloudFormation does: prod keeps the state table and the claim bucket with
their data, dev leaves nothing, its claim bucket emptied by ``Custom::S3AutoDeleteObjects``
(answered by localcloud/patches/cloudformation.py, as the CDK's Node.js handler answers it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import Deployment, LocalCloud
from localcloud.patches.cloudformation import AUTO_DELETE_OBJECTS, AUTO_DELETE_TAG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dev_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app synthesized as ``cdk synth -c stage=dev`` does (the CLI passes CDK_CONTEXT_JSON)."""
    outdir = tmp_path_factory.mktemp("app-dev.out")
    subprocess.run(
        [sys.executable, "app.py"],
        check=True,
        cwd=ROOT,
        env={**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps({"stage": "dev"})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return outdir


def store_some_data(cloud: LocalCloud, deployment: Deployment) -> None:
    """What a run leaves: a claim-checked text in the bucket, a record in the table."""
    cloud.client("s3").put_object(
        Bucket=deployment.outputs["ClaimBucketName"], Key="claims/run-1/text.txt", Body=b"a long text"
    )
    cloud.client("dynamodb").put_item(
        TableName=deployment.outputs["StateTableName"],
        Item={"pk": {"S": "REVIEW#r-1"}, "sk": {"S": "REVIEW"}, "status": {"S": "approved"}},
    )


def status_of(cloud: LocalCloud, stack_name: str) -> str:
    summaries = cloud.client("cloudformation").list_stacks()["StackSummaries"]
    return str(next(s["StackStatus"] for s in summaries if s["StackName"] == stack_name))


def buckets(cloud: LocalCloud) -> set[str]:
    return {b["Name"] for b in cloud.client("s3").list_buckets().get("Buckets", [])}


def test_the_dev_stage_deploys_and_its_deletion_leaves_no_data(cloud: LocalCloud, dev_assembly: Path) -> None:
    # Given the dev stage deployed, with a claim in its bucket and a record in its table
    deployment = cloud.deploy(dev_assembly)
    assert AUTO_DELETE_OBJECTS in deployment.resource_types.values()
    assert AUTO_DELETE_OBJECTS not in deployment.not_modeled
    bucket, table = deployment.outputs["ClaimBucketName"], deployment.outputs["StateTableName"]
    store_some_data(cloud, deployment)
    # When the stack is deleted
    cloud.client("cloudformation").delete_stack(StackName=deployment.stack_name)
    # Then it is gone, and so are its claim bucket (emptied first) and its state table
    assert status_of(cloud, deployment.stack_name) == "DELETE_COMPLETE"
    assert bucket not in buckets(cloud)
    assert table not in cloud.client("dynamodb").list_tables()["TableNames"]


def test_the_prod_stage_deploys_and_its_deletion_keeps_the_data(
    cloud: LocalCloud, app_assembly: Path
) -> None:
    # Given the app as a deploy that names no stage builds it, with the same data
    deployment = cloud.deploy(app_assembly)
    assert AUTO_DELETE_OBJECTS not in deployment.resource_types.values()
    bucket, table = deployment.outputs["ClaimBucketName"], deployment.outputs["StateTableName"]
    store_some_data(cloud, deployment)
    dynamodb = cloud.client("dynamodb")
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    # When the stack is deleted
    cloud.client("cloudformation").delete_stack(StackName=deployment.stack_name)
    # Then the stack is gone, and its claim bucket and state table are kept, with their data
    assert status_of(cloud, deployment.stack_name) == "DELETE_COMPLETE"
    assert cloud.client("s3").get_object(Bucket=bucket, Key="claims/run-1/text.txt")["Body"].read() == (
        b"a long text"
    )
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "REVIEW#r-1"}, "sk": {"S": "REVIEW"}})
    assert item["Item"]["status"] == {"S": "approved"}
    # And the table refuses a delete until its protection is turned off
    with pytest.raises(ClientError, match="DeletionProtectionEnabled is set to True"):
        dynamodb.delete_table(TableName=table)


def bucket_with_auto_delete(name: str, *, tagged: bool) -> dict[str, Any]:
    """A bucket and the CDK's auto-delete resource for it; tagged or not, as the CDK tags it."""
    bucket: dict[str, Any] = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}
    if tagged:
        bucket["Properties"]["Tags"] = [{"Key": AUTO_DELETE_TAG, "Value": "true"}]
    return {
        "Resources": {
            "Bucket": bucket,
            "AutoDelete": {
                "Type": AUTO_DELETE_OBJECTS,
                # the CDK's Node.js function: the local cloud never invokes it
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cdk-handler",
                    "BucketName": {"Ref": "Bucket"},
                },
            },
        }
    }


@pytest.mark.parametrize("tagged", [True, False], ids=["tagged", "untagged"])
def test_the_auto_delete_resource_empties_only_a_bucket_tagged_for_it(
    cloud: LocalCloud, tagged: bool
) -> None:
    # Given a stack of a bucket holding objects, and an auto-delete resource naming it
    name = f"auto-delete-{'tagged' if tagged else 'untagged'}"
    cfn, s3 = cloud.client("cloudformation"), cloud.client("s3")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(bucket_with_auto_delete(name, tagged=tagged)))
    assert status_of(cloud, name) == "CREATE_COMPLETE"  # answered at once, its function never run
    for key in ("claims/a.txt", "redacted/b.txt"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    if tagged:
        # When the stack is deleted, then the bucket is emptied, then deleted, as on AWS
        cfn.delete_stack(StackName=name)
        assert status_of(cloud, name) == "DELETE_COMPLETE"
        assert name not in buckets(cloud)
    else:
        # When the stack is deleted, then a bucket the CDK did not tag is left as it is, and (as
        # CloudFormation does) the deletion fails on it: the bucket is not empty
        with pytest.raises(ClientError, match="BucketNotEmpty"):
            cfn.delete_stack(StackName=name)
        assert {o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]} == {
            "claims/a.txt",
            "redacted/b.txt",
        }
