"""The aiflows stack: the capabilities, the flows that call them, and what the flows need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.claim_bucket import ClaimBucket
from infra.constructs.corpus import Corpus
from infra.constructs.event_bus import EventBus
from infra.constructs.flow import Flow
from infra.constructs.monitoring import RUNBOOKS, Monitoring
from infra.constructs.review_api import ReviewApi
from infra.constructs.state_table import StateTable
from infra.constructs.work_queue import WORKER_TIMEOUT, WorkQueue
from infra.nag import acknowledge


@dataclass(frozen=True)
class Capability:
    """What one capability's function reaches besides the state table (which all of them use)."""

    capability: str  # its folder under functions/
    claims: Literal["read", "read_write", "read_redact"] | None = None  # the claim bucket
    model_route: str | None = None  # its route in routing.toml: the models it may call
    publishes: bool = False  # puts events on the bus
    reads_corpus: bool = False
    works_the_queue: bool = False  # fed by the work queue; answers the flow's task tokens
    memory_mb: int = 512
    timeout_seconds: int | None = None  # None: the CapabilityFunction default (30 s)


# Construct id -> capability. Who reads claims: every step whose input holds a
# document parses it with parse_input, which fetches a text_ref from the bucket.
CAPABILITIES: dict[str, Capability] = {
    "ValidateFunction": Capability("validate", claims="read_write"),
    # writes a redacted copy of a large text; reads up to 1 MiB of it with every rule: more CPU, more time
    "GuardFunction": Capability("guard", claims="read_redact", memory_mb=1024, timeout_seconds=60),
    "ClassifyFunction": Capability("classify", claims="read", model_route="classify"),
    "ExtractFunction": Capability("extract", claims="read", model_route="extract"),
    "SummarizeFunction": Capability("summarize", claims="read", model_route="summarize"),
    "RetrieveFunction": Capability("retrieve", reads_corpus=True),
    "ActFunction": Capability("act", publishes=True),
    "WorkerFunction": Capability("worker", claims="read", model_route="summarize", works_the_queue=True),
    "RequestReviewFunction": Capability("request_review", claims="read", publishes=True),
}


# The cost-per-run alarms' budgets (USD, average over an hour's runs). Each flow's
# definition also caps a single run (its Tasks' budget_usd), which ends in BudgetExceeded.
COST_PER_RUN_USD = {"document_intake": 0.01, "classify_extract": 0.005}


class AiFlowsStack(Stack):
    """Environment-agnostic: no account or region lookups, so synth runs offline."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.state_table = StateTable(self, "StateTable")
        self.work_queue = WorkQueue(self, "Work")
        self.event_bus = EventBus(self, "EventBus")
        self.claim_bucket = ClaimBucket(self, "ClaimBucket")
        self.corpus = Corpus(self, "Corpus")

        self.functions = {
            construct_id: self._capability(construct_id, spec) for construct_id, spec in CAPABILITIES.items()
        }
        for construct_id, spec in CAPABILITIES.items():
            if spec.works_the_queue:
                self.work_queue.add_worker(self.functions[construct_id].function)
        self._managed_guardrails(self.functions["GuardFunction"])

        def function(construct_id: str) -> Any:
            return self.functions[construct_id].function

        self.document_intake = Flow(
            self,
            "DocumentIntake",
            name="document_intake",
            bindings={
                **{f: function(f) for f, spec in CAPABILITIES.items() if not spec.works_the_queue},
                "EventBus": self.event_bus.event_bus,
                "WorkQueue": self.work_queue.queue,
            },
        )
        self.classify_extract = Flow(
            self,
            "ClassifyExtract",
            name="classify_extract",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            bindings={f: function(f) for f in ("ClassifyFunction", "ExtractFunction")},
        )
        self.review_api = ReviewApi(
            self, "ReviewApi", state_table=self.state_table, claim_bucket=self.claim_bucket
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dead_letter_queues={
                "work": self.work_queue.dead_letter_queue,
                "event-targets": self.event_bus.target_dead_letter_queue,
            },
            runbook_url=self.node.try_get_context("runbook_url") or RUNBOOKS,
            alert_email=self.node.try_get_context("alert_email"),
        )
        # What a run is expected to cost on average; the definitions' budget_usd caps one run.
        self.monitoring.watch_flow(self.document_intake, cost_per_run_usd=COST_PER_RUN_USD["document_intake"])
        self.monitoring.watch_flow(
            self.classify_extract, cost_per_run_usd=COST_PER_RUN_USD["classify_extract"]
        )
        self.event_bus.start_flow(
            "DocumentSubmitted",
            source=["aiflows.documents"],
            detail_type=["document.submitted"],
            flow=self.document_intake,
            description="A submitted document starts the document_intake flow (its live alias).",
        )

        outputs = {
            "EventBusName": self.event_bus.event_bus.event_bus_name,
            "DocumentIntakeStateMachineArn": self.document_intake.state_machine.state_machine_arn,
            "DocumentIntakeVersionArn": self.document_intake.version_arn,
            "DocumentIntakeAliasArn": self.document_intake.alias_arn,
            "ClassifyExtractStateMachineArn": self.classify_extract.state_machine.state_machine_arn,
            "ClassifyExtractAliasArn": self.classify_extract.alias_arn,
            "ReviewApiUrl": self.review_api.url,
            "ReviewApiFunctionName": self.review_api.handler.function.function_name,
            "ReviewerUserPoolId": self.review_api.user_pool.user_pool_id,
            "ReviewConsoleClientId": self.review_api.client.user_pool_client_id,
            "StateTableName": self.state_table.table.table_name,
            "WorkQueueUrl": self.work_queue.queue.queue_url,
            "WorkDeadLetterQueueUrl": self.work_queue.dead_letter_queue.queue_url,
            "EventTargetDeadLetterQueueUrl": self.event_bus.target_dead_letter_queue.queue_url,
            "AlertsTopicArn": self.monitoring.topic.topic_arn,
            "ClaimBucketName": self.claim_bucket.bucket.bucket_name,
            **{f"{f}Name": function(f).function_name for f in CAPABILITIES},
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)

    def _managed_guardrails(self, guard: CapabilityFunction) -> None:
        """Amazon Bedrock Guardrails and Amazon Comprehend for the guard step, when asked for.

        ``-c bedrock_guardrail_id=<id> [-c bedrock_guardrail_version=<n>]`` has the guard
        call ApplyGuardrail on that guardrail; ``-c comprehend_pii_language=en`` has it
        add Comprehend's DetectPiiEntities to its own PII detectors.
        """
        guardrail_id = self.node.try_get_context("bedrock_guardrail_id")
        if guardrail_id:
            version = str(self.node.try_get_context("bedrock_guardrail_version") or "DRAFT")
            guard.function.add_environment("BEDROCK_GUARDRAIL_ID", guardrail_id)
            guard.function.add_environment("BEDROCK_GUARDRAIL_VERSION", version)
            guard.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["bedrock:ApplyGuardrail"],
                    resources=[
                        self.format_arn(service="bedrock", resource="guardrail", resource_name=guardrail_id)
                    ],
                )
            )
        language = self.node.try_get_context("comprehend_pii_language")
        if language:
            guard.function.add_environment("COMPREHEND_PII_LANGUAGE", language)
            policy = iam.Policy(
                guard,
                "ComprehendPolicy",
                roles=[guard.role],
                statements=[iam.PolicyStatement(actions=["comprehend:DetectPiiEntities"], resources=["*"])],
            )
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "comprehend:DetectPiiEntities is a real-time analysis call on text: it names no "
                "resource, so '*' is the only resource it accepts.",
            )

    def _capability(self, construct_id: str, spec: Capability) -> CapabilityFunction:
        environment = {"STATE_TABLE_NAME": self.state_table.table.table_name}
        if spec.claims:
            environment["CLAIM_BUCKET"] = self.claim_bucket.bucket.bucket_name
        if spec.publishes:
            environment["EVENT_BUS_NAME"] = self.event_bus.event_bus.event_bus_name
        if spec.reads_corpus:
            environment.update(self.corpus.environment)
        capability = CapabilityFunction(
            self,
            construct_id,
            capability=spec.capability,
            environment=environment,
            model_route=spec.model_route,
            timeout=WORKER_TIMEOUT
            if spec.works_the_queue
            else (Duration.seconds(spec.timeout_seconds) if spec.timeout_seconds else None),
            memory_size=spec.memory_mb,
            answers_task_tokens=spec.works_the_queue,
            invoked_by="queue" if spec.works_the_queue else "flow",
        )
        self.state_table.grant_read_write_data(capability.function)
        if spec.claims == "read_write":
            self.claim_bucket.grant_read_write(capability)
        elif spec.claims == "read":
            self.claim_bucket.grant_read(capability)
        elif spec.claims == "read_redact":
            self.claim_bucket.grant_read(capability)
            self.claim_bucket.grant_redacted_copies(capability)
        if spec.publishes:
            self.event_bus.event_bus.grant_put_events_to(capability.function)
        if spec.reads_corpus:
            self.corpus.grant_read(capability.function)
        return capability
