"""CloudFormation in the local cloud: the CDK's auto-delete custom resource, and buckets on delete.

- ``Custom::S3AutoDeleteObjects`` (what ``autoDeleteObjects`` adds to a bucket, as the
  ``dev`` stage does to the claim bucket) is backed by a Node.js function of the CDK's;
  moto invokes a custom resource's function and waits for its answer on a response URL,
  and the local cloud runs Python handlers only, so the stack would never leave
  CREATE_IN_PROGRESS. Here the resource is answered as the CDK's handler answers it
  (``aws-cdk-lib``'s ``custom-resource-handlers/dist/aws-s3/auto-delete-objects-handler``):
  nothing to do on create and update, and on delete, if the bucket carries the tag
  ``aws-cdk:auto-delete-objects=true``, every object version and delete marker is deleted,
  through the local cloud's own S3 API. (The handler also puts a statement denying new
  uploads in the bucket policy first; moto does not enforce bucket policies, so it is left
  out.) Any other custom resource type goes to moto, unchanged.
- moto's stack deletion "deletes" a bucket that still holds objects by leaving it in S3
  and reporting success; AWS refuses (``BucketNotEmpty``, the stack in DELETE_FAILED).
  Here the refusal is AWS's, so the bucket goes only once it is empty: moto's deletion
  retries a refused resource after the others, which lets the auto-delete resource empty
  it first, as CloudFormation's dependency order does.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

AUTO_DELETE_OBJECTS = "Custom::S3AutoDeleteObjects"
HANDLED = (AUTO_DELETE_OBJECTS,)  # modeled here, though moto's CloudFormation would wait on its function
AUTO_DELETE_TAG = "aws-cdk:auto-delete-objects"  # the tag the CDK puts on a bucket it may empty


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every version and delete marker of ``bucket``, as the CDK's handler does; return how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
    return deleted


def install(patches: Patches, cloud: LocalCloud) -> None:
    from botocore.exceptions import ClientError
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import cloudformation_backends
    from moto.s3.exceptions import BucketNotEmpty
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    class AutoDeleteObjects(CustomModel):
        """``Custom::S3AutoDeleteObjects``, answered at once; on delete, empties its tagged bucket."""

        def __init__(self, region_name: str, logical_id: str, resource_name: str, bucket_name: str) -> None:
            super().__init__(region_name, str(uuid.uuid4()), logical_id, resource_name)
            self.bucket_name = bucket_name
            self.set_data({})  # CREATE: the CDK's handler does nothing, and answers SUCCESS

        def delete(self, account_id: str, region_name: str) -> None:
            s3 = cloud.client("s3")
            try:
                tags = s3.get_bucket_tagging(Bucket=self.bucket_name).get("TagSet", [])
            except ClientError as error:
                if error.response["Error"]["Code"] == "NoSuchBucket":
                    return  # "Bucket ... does not exist": nothing to empty
                if error.response["Error"]["Code"] != "NoSuchTagSet":
                    raise
                tags = []
            if {"Key": AUTO_DELETE_TAG, "Value": "true"} in tags:
                empty_bucket(s3, self.bucket_name)

    create_custom = CustomModel.create_from_cloudformation_json.__func__

    def create_custom_resource(
        cls: Any, name: str, template: dict[str, Any], account: str, region: str, **kw: Any
    ) -> Any:
        if kw.get("ResourceType") != AUTO_DELETE_OBJECTS:
            return create_custom(cls, name, template, account, region, **kw)
        bucket_name = template["Properties"]["BucketName"]
        resource = AutoDeleteObjects(region, kw["LogicalId"], name, bucket_name)
        cloudformation_backends[account][region].get_stack(kw["StackId"]).add_custom_resource(resource)
        return resource

    patches.replace(CustomModel, "create_from_cloudformation_json", classmethod(create_custom_resource))

    delete_bucket = FakeBucket.delete_from_cloudformation_json.__func__

    def delete_bucket_from_template(
        cls: Any, name: str, template: dict[str, Any], account: str, region: str
    ) -> None:
        backend = s3_backends[account][get_partition(region)]
        if name in backend.buckets and backend.buckets[name].keys:
            raise BucketNotEmpty(name)
        delete_bucket(cls, name, template, account, region)

    patches.replace(FakeBucket, "delete_from_cloudformation_json", classmethod(delete_bucket_from_template))
