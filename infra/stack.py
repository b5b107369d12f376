"""The aiflows stack: the capabilities, the flows that call them, and what the flows need."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from aiflows.flows import FlowInfo, action_policies, flows
from aiflows.registry import CapabilityInfo, RegistryError, camel, capabilities
from aiflows_runtime.policies import guard_policy
from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.claim_bucket import ClaimBucket
from infra.constructs.corpus import Corpus
from infra.constructs.event_bus import EventBus
from infra.constructs.flow import Flow, FlowDefinitionError, substitutions
from infra.constructs.guardrail import GUARDRAIL_ID_CONTEXT, ManagedGuardrail, managed_guardrail_requested
from infra.constructs.monitoring import RUNBOOKS, Monitoring
from infra.constructs.parked_runs import ParkedRuns
from infra.constructs.review_api import ReviewApi
from infra.constructs.state_table import StateTable
from infra.constructs.work_queue import WORKER_TIMEOUT, WorkQueue
from infra.contract_check import walk_states
from infra.nag import acknowledge
from infra.stage import ALERT_EMAIL_CONTEXT, Stage, stage_from
from infra.weave import EVENT_BUS, PARKED_RUNS, STATE_TABLE, weave


class AiFlowsStack(Stack):
    """Environment-agnostic: no account or region lookups, so synth runs offline.

    ``stage`` is the stack's (infra/stage.py), by default the one the context names; every
    construct asks :func:`~infra.stage.stage_of` for it, so two stages can share one app.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, stage: Stage | None = None, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage or stage_from(self.node)
        self.state_table = StateTable(self, "StateTable")
        self.work_queue = WorkQueue(self, "Work")
        self.parked_runs = ParkedRuns(self, "ParkedRuns")
        self.event_bus = EventBus(self, "EventBus", bus_name=self.stage.prefix)
        self.claim_bucket = ClaimBucket(self, "ClaimBucket")
        self.corpus = Corpus(self, "Corpus")

        self.capabilities = capabilities()
        self.functions = {info.binding: self._capability(info) for info in self.capabilities.values()}
        for info in self.capabilities.values():
            if info.manifest.reaches.work_queue:
                self.work_queue.add_worker(self.functions[info.binding].function)
        if "guard" in self.capabilities:
            self._managed_guardrails(self.functions[self.capabilities["guard"].binding])

        resources = {
            EVENT_BUS: self.event_bus.event_bus,
            STATE_TABLE: self.state_table.table,  # an event-triggered flow claims its event there
            PARKED_RUNS: self.parked_runs.queue,  # where a run waits after a step's retries ran out
            "WorkQueue": self.work_queue.queue,
            # a Distributed Map's ItemReader and ResultWriter name it: ${ClaimBucket}, by name
            "ClaimBucket": self.claim_bucket.bucket,
        }
        self.flows = {info.name: self._flow(info, resources) for info in flows().values()}
        self.review_api = ReviewApi(
            self,
            "ReviewApi",
            state_table=self.state_table,
            claim_bucket=self.claim_bucket,
            event_bus=self.event_bus,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dead_letter_queues={
                "work": self.work_queue.dead_letter_queue,
                "event-targets": self.event_bus.target_dead_letter_queue,
            },
            runbook_url=self.node.try_get_context("runbook_url") or RUNBOOKS,
            alert_email=self.node.try_get_context(ALERT_EMAIL_CONTEXT),
        )
        self.monitoring.watch_parked_runs(self.parked_runs.queue)
        outputs: dict[str, str] = {}
        for flow_info in flows().values():
            flow = self.flows[flow_info.name]
            # What a run is expected to cost on average; the manifest's budget_usd caps one run.
            self.monitoring.watch_flow(flow, cost_per_run_usd=flow_info.manifest.cost_per_run_alarm_usd)
            for number, trigger in enumerate(flow_info.manifest.triggers):
                # the flow's name and its trigger's: two flows (or two triggers) never share a rule id
                event = camel(trigger.detail_type[0].replace(".", "_").replace("-", "_"))
                self.event_bus.start_flow(
                    f"{flow_info.construct_id}{event}{number or ''}",
                    source=trigger.source,
                    detail_type=trigger.detail_type,
                    flow=flow,
                    description=f"{', '.join(trigger.detail_type)} starts {flow_info.name} (its live alias).",
                )
            outputs[f"{flow_info.construct_id}StateMachineArn"] = flow.state_machine.state_machine_arn
            outputs[f"{flow_info.construct_id}VersionArn"] = flow.version_arn
            outputs[f"{flow_info.construct_id}AliasArn"] = flow.alias_arn

        outputs |= {
            "EventBusName": self.event_bus.event_bus.event_bus_name,
            "ReviewApiUrl": self.review_api.url,
            "ReviewApiFunctionName": self.review_api.handler.function.function_name,
            "ReviewerUserPoolId": self.review_api.user_pool.user_pool_id,
            "ReviewConsoleClientId": self.review_api.client.user_pool_client_id,
            "StateTableName": self.state_table.table.table_name,
            "WorkQueueUrl": self.work_queue.queue.queue_url,
            "WorkDeadLetterQueueUrl": self.work_queue.dead_letter_queue.queue_url,
            "ParkedRunsQueueUrl": self.parked_runs.queue.queue_url,
            "EventTargetDeadLetterQueueUrl": self.event_bus.target_dead_letter_queue.queue_url,
            "AlertsTopicArn": self.monitoring.topic.topic_arn,
            "ClaimBucketName": self.claim_bucket.bucket.bucket_name,
            **{f"{binding}Name": fn.function.function_name for binding, fn in self.functions.items()},
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)

    def _flow(self, info: FlowInfo, resources: dict[str, Any]) -> Flow:
        """A flow of statemachines/, woven, each ``${Name}`` bound to its capability or resource."""
        capabilities = info.capability_bindings()
        try:
            definition = weave(info, capabilities)
        except ValueError as exc:
            raise FlowDefinitionError(str(exc)) from None
        if info.manifest.type == "EXPRESS":
            waits = [
                p for p, state in walk_states(definition) if ".waitForTaskToken" in str(state.get("Resource"))
            ]
            if waits or info.manifest.review:
                raise FlowDefinitionError(
                    f"{info.folder / 'flow.toml'}: an EXPRESS flow, but {', '.join(waits) or 'its review'} "
                    "waits for a task token: Express workflows support Request Response only; make the flow "
                    'type = "STANDARD", or call without .waitForTaskToken'
                )
        used = substitutions(definition)
        bindings: dict[str, object] = {}
        for name in sorted(used):
            if name in capabilities:
                bindings[name] = self.functions[capabilities[name].binding].function
            elif name in resources:
                bindings[name] = resources[name]
            else:
                known = sorted({*capabilities, *resources})
                states = ", ".join(
                    path for path, state in walk_states(definition) if name in substitutions(state)
                )
                raise FlowDefinitionError(
                    f"{info.definition_path}: state {states}: ${{{name}}} names nothing the stack has "
                    f"({', '.join(known)}); fix the name, add functions/<name>/capability.toml for a "
                    "capability named ${<Name>Function}, or bind it in flow.toml's [bindings]"
                )
        unused = sorted(set(info.manifest.bindings) - used)
        if unused:
            raise FlowDefinitionError(
                f"{info.folder / 'flow.toml'}: [bindings] {', '.join(unused)} never appear in "
                f"{info.definition_path}; remove them, or use them"
            )
        return Flow(
            self,
            info.construct_id,
            name=info.name,
            definition=definition,
            bindings=bindings,
            state_machine_type=sfn.StateMachineType[info.manifest.type],
            source=info.definition_path,
            capabilities=capabilities,
        )

    def _managed_guardrails(self, guard: CapabilityFunction) -> None:
        """Amazon Bedrock Guardrails and Amazon Comprehend for the guard step, when asked for.

        ``-c managed_guardrail=true`` creates a guardrail from the guard's policy and has the
        guard call ApplyGuardrail on its version (infra/constructs/guardrail.py);
        ``-c bedrock_guardrail_id=<id> [-c bedrock_guardrail_version=<n>]`` has it call a
        guardrail of the deploy's own instead (asking for both is refused);
        ``-c comprehend_pii_language=en`` has it add Comprehend's DetectPiiEntities to its own
        PII detectors.
        """
        guardrail_id = self.node.try_get_context(GUARDRAIL_ID_CONTEXT)
        if managed_guardrail_requested(self.node):
            managed = ManagedGuardrail(
                self, "ManagedGuardrail", policy=guard_policy(), name=f"{self.stage.prefix}-guard"
            )
            managed.attach(guard.function, guard.role)
        elif guardrail_id:
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

    def _capability(self, info: CapabilityInfo) -> CapabilityFunction:
        """A capability's function, given exactly what its manifest says it reaches."""
        reaches = info.manifest.reaches
        environment = {"STATE_TABLE_NAME": self.state_table.table.table_name}
        if reaches.claims or reaches.batch_results:
            environment["CLAIM_BUCKET"] = self.claim_bucket.bucket.bucket_name
        if reaches.bus:
            environment["EVENT_BUS_NAME"] = self.event_bus.event_bus.event_bus_name
        if reaches.corpus:
            environment.update(self.corpus.environment)
        if reaches.actions:
            environment["ACTION_POLICIES"] = json.dumps(
                action_policies(), sort_keys=True, separators=(",", ":")
            )
        if reaches.work_queue and info.manifest.timeout_seconds > WORKER_TIMEOUT.to_seconds():
            raise RegistryError(
                f"{info.folder / 'capability.toml'}: timeout_seconds = {info.manifest.timeout_seconds}, "
                f"but a work queue worker may take {WORKER_TIMEOUT.to_seconds()} s at most"
            )
        capability = CapabilityFunction(
            self,
            info.binding,
            capability=info.name,
            environment=environment,
            models=info.route_models,
            timeout=Duration.seconds(info.manifest.timeout_seconds),
            memory_size=info.manifest.memory_mb,
            answers_task_tokens=reaches.work_queue,
            invoked_by="queue" if reaches.work_queue else "flow",
        )
        self.state_table.grant_read_write_data(capability.function)
        if reaches.claims == "read_write":
            self.claim_bucket.grant_read_write(capability)
        elif reaches.claims == "read":
            self.claim_bucket.grant_read(capability)
        elif reaches.claims == "read_redact":
            self.claim_bucket.grant_read(capability)
            self.claim_bucket.grant_redacted_copies(capability)
        if reaches.batch_results:
            self.claim_bucket.grant_batch_results(capability)
        if reaches.bus:
            self.event_bus.event_bus.grant_put_events_to(capability.function)
        if reaches.corpus:
            self.corpus.grant_read(capability.function)
        return capability
