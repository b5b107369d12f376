"""The parked-runs queue: where a run waits, with its task token, after a step's retries ran out.

A step that still fails on an error its Retry expects to pass parks the run (infra.weave,
docs/flows.md#parked-runs): a message here holds the run's task token, the step and the
error. ``python -m aiflows runs resume`` answers it, and the step runs again;
``runs abandon`` sends the run down its failure path. Nothing consumes the queue on its
own: an alarm says that a run waits (docs/runbooks/parked-runs.md).
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.queues import resting_queue
from infra.nag import acknowledge


class ParkedRuns(Construct):
    """A queue of parked runs: TLS only, SQS-managed encryption, kept 14 days."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # a parked run waits less than the queue keeps its message (a manifest's park_for_seconds)
        self.queue = resting_queue(self, "Queue")
        for finding in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.queue.node.find_child("Resource"),
                finding,
                "Parked runs wait here for an operator, who resumes or abandons each one "
                "(python -m aiflows runs resume / abandon): a message is never consumed by a "
                "function that could fail on it, so a dead-letter queue would never be used.",
            )
