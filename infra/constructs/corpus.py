"""The retrieval corpus: the top-level ``corpus/`` folder, deployed as one zipped asset."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


class Corpus(Construct):
    """``corpus/`` as an S3 asset (a zip, which the retrieve step indexes on its first call).

    A new corpus is a new object key: the function's ``CORPUS_KEY`` changes with it,
    so each deploy's functions read the corpus they were deployed with.
    """

    def __init__(self, scope: Construct, construct_id: str, *, folder: Path = CORPUS) -> None:
        super().__init__(scope, construct_id)
        self.asset = s3_assets.Asset(self, "Default", path=str(folder), exclude=[".*", "**/__pycache__"])

    @property
    def environment(self) -> dict[str, str]:
        return {"CORPUS_BUCKET": self.asset.s3_bucket_name, "CORPUS_KEY": self.asset.s3_object_key}

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """``s3:GetObject`` on this asset's object only.

        ``Asset.grant_read`` grants read on the whole bootstrap assets bucket (every
        asset of every stack of the account), which the retrieve step never needs.
        """
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[self.asset.bucket.arn_for_objects(self.asset.s3_object_key)],
        )
