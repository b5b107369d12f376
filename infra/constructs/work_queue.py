"""The work queue: long-running steps hand work to a worker, with a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

WORKER_TIMEOUT = Duration.seconds(60)
MAX_RECEIVE_COUNT = 3


class WorkQueue(Construct):
    """A work queue and its dead-letter queue: TLS only, SQS-managed encryption.

    The visibility timeout is six times the worker's timeout, as Lambda recommends
    for an SQS event source, so a message is not redelivered while a worker (and
    its retries) still holds it.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.seconds(6 * WORKER_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        acknowledge(
            self.dead_letter_queue.node.find_child("Resource"),
            "Serverless-SQSRedrivePolicy",
            "This queue is the work queue's dead-letter queue: messages rest here for "
            "inspection and redrive; a dead-letter queue of its own would add nothing.",
        )
