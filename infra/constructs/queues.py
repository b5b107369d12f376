"""The queues where messages rest for an operator: dead letters, and parked runs."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

RETENTION = Duration.days(14)  # SQS's longest: what waits for a person waits this long at most


def resting_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """A queue that TLS alone reaches, encrypted by SQS, that keeps a message 14 days."""
    return sqs.Queue(
        scope,
        construct_id,
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        retention_period=RETENTION,
    )
