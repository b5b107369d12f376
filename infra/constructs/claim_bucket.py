"""The claim bucket: large texts travel through a flow as references to objects here."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from aiflows_runtime.claimcheck import BATCH_RESULTS_PREFIX
from infra.constructs.capability_function import CapabilityFunction
from infra.nag import acknowledge
from infra.stage import policy_of

REDACTED_PREFIX = "redacted/"  # where the guard writes redacted copies (functions/guard/handler.py)

EXPIRATION = Duration.days(30)
INCOMPLETE_UPLOADS = Duration.days(1)  # a multipart upload never completed is aborted (and its parts freed)
# What ``autoDeleteObjects`` adds: one provider (a Node.js function of the CDK's) per stack, one
# custom resource per bucket.
AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
AUTO_DELETE_RESOURCE = "AutoDeleteObjectsCustomResource"


class ClaimBucket(Construct):
    """Claim-checked texts: TLS only, no public access, S3-managed encryption, kept 30 days.

    The validate step stores a document's text here when it is over the claim-check
    limit; every step that reads the document resolves the reference. Every object
    (claims, the guard's redacted copies, a batch's result files) expires after 30 days,
    longer than any run (a review waits a day at most, the flow a week), and an upload
    left incomplete is aborted after a day. The bucket is not versioned, so no
    noncurrent version outlives its object.

    The stage's policy decides what a destroy does (:mod:`infra.stage`): under
    ``production`` the bucket is retained with its objects (which go on expiring); under
    ``development`` it is deleted with the stack and emptied first by the CDK's
    ``autoDeleteObjects`` custom resource (``Custom::S3AutoDeleteObjects``, which the local
    cloud answers as its handler does).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        policy = policy_of(self)
        self.bucket = s3.Bucket(
            self,
            "Default",
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireClaims",
                    expiration=EXPIRATION,
                    abort_incomplete_multipart_upload_after=INCOMPLETE_UPLOADS,
                )
            ],
            removal_policy=policy.data_removal_policy,
            auto_delete_objects=policy.auto_delete_objects,
        )
        if policy.auto_delete_objects:
            self._own_auto_delete_logs()
        acknowledge(
            self.bucket.node.find_child("Resource"),
            "AwsSolutions-S1",
            "Only this stack's function roles can reach the objects (the bucket policy grants "
            "no one else, but for a development stage's own auto-delete handler, which empties it on "
            "destroy; public access is blocked) and every run that stores or reads one is "
            "logged and traced under its correlation id; object-level audit, where required, is "
            "the account's CloudTrail data events, not a log bucket per stack that would need "
            "its own S1 exception and could not be emptied on destroy.",
        )

    def _own_auto_delete_logs(self) -> None:
        """The auto-delete handler logs into a log group of the stack, which goes with it.

        Otherwise Lambda creates ``/aws/lambda/<handler>`` on the handler's first run (the
        custom resource's create), outside the stack, kept forever: the one thing a ``dev``
        destroy would leave behind. The custom resource depends on the group, so the group
        is created before the handler first runs and deleted after its last run.
        """
        policy = policy_of(self)
        provider = Stack.of(self).node.find_child(AUTO_DELETE_PROVIDER)
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, CfnResource)
        group = provider.node.try_find_child("Logs")
        if group is None:
            group = logs.LogGroup(
                provider,
                "Logs",
                log_group_name=Fn.join("", ["/aws/lambda/", handler.ref]),
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=policy.log_removal_policy,
            )
        self.bucket.node.find_child(AUTO_DELETE_RESOURCE).node.add_dependency(group)

    @property
    def _objects_finding(self) -> str:
        logical_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)
        return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]"

    def grant_read(self, function: CapabilityFunction) -> None:
        """``s3:GetObject`` on the claims: a step resolving a ``text_ref``."""
        self._grant(function, ["s3:GetObject"])

    def grant_read_write(self, function: CapabilityFunction) -> None:
        """``s3:GetObject`` and ``s3:PutObject`` on the claims: the step that claim-checks texts."""
        self._grant(function, ["s3:GetObject", "s3:PutObject"])

    def grant_redacted_copies(self, function: CapabilityFunction) -> None:
        """``s3:PutObject`` under ``redacted/`` only: the guard's redacted copies, never the originals."""
        iam.Grant.add_to_principal(
            grantee=function.function,
            actions=["s3:PutObject"],
            resource_arns=[self.bucket.arn_for_objects(f"{REDACTED_PREFIX}*")],
        )
        acknowledge(
            function.role.node.find_child("DefaultPolicy"),
            self._objects_finding.replace("/*]", f"/{REDACTED_PREFIX}*]"),
            "The guard writes one redacted copy per run (redacted/<correlation id>.txt), unknown "
            "at deploy time: the grant is on that prefix of the claim bucket, and only there.",
        )

    def grant_batch_results(self, function: CapabilityFunction) -> None:
        """``s3:ListBucket`` and ``s3:GetObject`` under ``batches/`` only: a batch's result files."""
        iam.Grant.add_to_principal(
            grantee=function.function,
            actions=["s3:ListBucket"],
            resource_arns=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{BATCH_RESULTS_PREFIX}*"]}},
        )
        iam.Grant.add_to_principal(
            grantee=function.function,
            actions=["s3:GetObject"],
            resource_arns=[self.bucket.arn_for_objects(f"{BATCH_RESULTS_PREFIX}*")],
        )
        acknowledge(
            function.role.node.find_child("DefaultPolicy"),
            self._objects_finding.replace("/*]", f"/{BATCH_RESULTS_PREFIX}*]"),
            "A batch's Distributed Map writes its result files under batches/<batch id>/ with the "
            "Map Run's id, unknown at deploy time: the grant is on that prefix of the claim bucket, "
            "and only there.",
        )

    def _grant(self, function: CapabilityFunction, actions: list[str]) -> None:
        # The two object calls the runtime makes (claimcheck.store_text, fetch_text),
        # not Bucket.grant_read's s3:GetObject*, s3:GetBucket* and s3:List*.
        iam.Grant.add_to_principal(
            grantee=function.function, actions=actions, resource_arns=[self.bucket.arn_for_objects("*")]
        )
        acknowledge(
            function.role.node.find_child("DefaultPolicy"),
            self._objects_finding,
            "Each run claim-checks its text under a key of its own (claims/<correlation id>/...), "
            "unknown at deploy time: the grant is on the claim bucket's objects, and only there.",
        )
