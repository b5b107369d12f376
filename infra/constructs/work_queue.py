"""The work queue: long-running steps hand work to a worker, with a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.queues import resting_queue
from infra.nag import acknowledge

WORKER_TIMEOUT = Duration.seconds(60)
MAX_RECEIVE_COUNT = 3
WORKER_BATCH_SIZE = 5
WORKER_MAX_CONCURRENCY = 5  # at most this many worker environments poll the queue at once


class WorkQueue(Construct):
    """A work queue and its dead-letter queue: TLS only, SQS-managed encryption.

    The visibility timeout is six times the worker's timeout, as Lambda recommends
    for an SQS event source, so a message is not redelivered while a worker (and
    its retries) still holds it.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = resting_queue(self, "DeadLetterQueue")
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

    def add_worker(self, worker: lambda_.Function) -> lambda_.EventSourceMapping:
        """Feed the queue to ``worker`` in batches, reporting each failed message on its own.

        With ReportBatchItemFailures, only the messages the worker names come back
        (the others are deleted); after MAX_RECEIVE_COUNT receives a message moves to
        the DLQ. The worker may take WORKER_TIMEOUT at most: the visibility timeout
        is sized from it.
        """
        if worker.timeout is None or worker.timeout.to_seconds() > WORKER_TIMEOUT.to_seconds():
            raise ValueError(
                f"the worker's timeout must be at most {WORKER_TIMEOUT.to_seconds()} s: the queue's "
                "visibility timeout is six times that"
            )
        # What SqsEventSource does, written out: the mapping is needed to acknowledge on it.
        mapping = worker.add_event_source_mapping(
            "WorkQueue",
            event_source_arn=self.queue.queue_arn,
            batch_size=WORKER_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=WORKER_MAX_CONCURRENCY,
        )
        self.queue.grant_consume_messages(worker)
        acknowledge(
            mapping.node.default_child,
            "Serverless-LambdaEventSourceMappingDestination",
            "An SQS event source mapping takes no on-failure destination (Lambda supports them "
            "for streams and Kafka): a failed message goes to the queue's own dead-letter queue.",
        )
        return mapping
