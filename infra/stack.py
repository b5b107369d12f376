"""The aiflows stack: the capabilities, the flows that call them, and what the flows need."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.event_bus import EventBus
from infra.constructs.flow import Flow
from infra.constructs.state_table import StateTable
from infra.constructs.work_queue import WorkQueue


class AiFlowsStack(Stack):
    """Environment-agnostic: no account or region lookups, so synth runs offline."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.state_table = StateTable(self, "StateTable")
        self.work_queue = WorkQueue(self, "Work")
        self.event_bus = EventBus(self, "EventBus")

        self.classify = CapabilityFunction(
            self,
            "ClassifyFunction",
            capability="classify",
            environment={"STATE_TABLE_NAME": self.state_table.table.table_name},
        )
        self.state_table.table.grant_read_write_data(self.classify.function)

        self.document_intake = Flow(
            self,
            "DocumentIntake",
            name="document_intake",
            bindings={"ClassifyFunction": self.classify.function},
        )
        self.event_bus.start_flow(
            "DocumentSubmitted",
            source=["aiflows.documents"],
            detail_type=["document.submitted"],
            state_machine=self.document_intake.state_machine,
            description="A submitted document starts the document_intake flow.",
        )

        for output_id, value in {
            "EventBusName": self.event_bus.event_bus.event_bus_name,
            "DocumentIntakeStateMachineArn": self.document_intake.state_machine.state_machine_arn,
            "StateTableName": self.state_table.table.table_name,
            "WorkQueueUrl": self.work_queue.queue.queue_url,
            "WorkDeadLetterQueueUrl": self.work_queue.dead_letter_queue.queue_url,
            "ClassifyFunctionName": self.classify.function.function_name,
        }.items():
            CfnOutput(self, output_id, value=value)
