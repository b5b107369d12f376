"""The project's event bus, and the rules on it that start flows."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.flow import Flow
from infra.nag import acknowledge

BUS_NAME = "aiflows"
MAX_EVENT_AGE = Duration.hours(1)
RETRY_ATTEMPTS = 8


class EventBus(Construct):
    """A custom bus; :meth:`start_flow` adds a rule whose matching events start a flow.

    Every rule target shares one dead-letter queue: an event that EventBridge could
    not deliver after its retries is kept there instead of being dropped.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str = BUS_NAME) -> None:
        super().__init__(scope, construct_id)
        self.event_bus = events.EventBus(self, "Default", event_bus_name=bus_name)
        self.target_dead_letter_queue = sqs.Queue(
            self,
            "TargetDeadLetterQueue",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=Duration.days(14),
        )
        for finding in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.target_dead_letter_queue.node.find_child("Resource"),
                finding,
                "This queue is the dead-letter queue of the bus's rule targets (an EventBridge "
                "DeadLetterConfig, which the rule does not recognise); it needs no DLQ of its own.",
            )

    def start_flow(
        self,
        rule_id: str,
        *,
        source: Sequence[str],
        detail_type: Sequence[str],
        flow: Flow,
        description: str | None = None,
    ) -> events.Rule:
        """Start ``flow``'s ``live`` alias with the whole event as its input, for each match.

        The target is the alias, not the state machine: pointing the alias back at an
        earlier version rolls back what new events start. The rule's role may start
        the flow through that alias only (:meth:`Flow.grant_start_live`); the target
        also grants ``states:StartExecution`` on the alias ARN itself.
        """
        role = iam.Role(
            self,
            f"{rule_id}Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"EventBridge starts {flow.name} (alias {flow.alias.name}) for rule {rule_id}",
        )
        flow.grant_start_live(role)
        rule = events.Rule(
            self,
            rule_id,
            event_bus=self.event_bus,
            description=description,
            event_pattern=events.EventPattern(source=list(source), detail_type=list(detail_type)),
            targets=[
                targets.SfnStateMachine(
                    flow.live,
                    role=role,
                    dead_letter_queue=self.target_dead_letter_queue,
                    max_event_age=MAX_EVENT_AGE,
                    retry_attempts=RETRY_ATTEMPTS,
                )
            ],
        )
        rule.node.add_dependency(flow.alias)  # the target names the alias by its ARN only
        return rule
