"""One Lambda function per AI capability, with the project's defaults in one place.

Every capability gets the same runtime, architecture, tracing, JSON logging, log
retention, Powertools settings and layers, so a flow's steps behave alike and a
change of default is one edit here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Literal

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnCondition,
    CfnParameter,
    CfnResource,
    CfnRule,
    CfnRuleAssertion,
    Duration,
    Fn,
    ICfnConditionExpression,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from aiflows_runtime.policies import Invocation, routing_policy
from infra.nag import acknowledge
from infra.regions import (
    REGION_SETTING,
    SUPPORTED_REGIONS,
    RegionError,
    require_supported_region,
    supported_region_rule,
)
from infra.stage import policy_of, stage_of

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
# The layer asset root: its python/ folder lands on /opt/python, where Lambda looks.
SHARED_RUNTIME = FUNCTIONS / "runtime"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "handler.lambda_handler"

REQUIREMENTS = ROOT / "requirements.txt"
POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"
# Powertools' public SSM parameter for one release, runtime and architecture; its value is the ARN
# of the layer version carrying that release, in the region that reads it. The Powertools docs give
# the path as /aws/service/powertools/python/{arch}/{python_version}/{version}, {version} being a
# release's semantic version or "latest"; the release workflow (update_ssm.yml) writes one per release.
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/{version}"
POWERTOOLS_PARAMETER_ID = "PowertoolsLayerArn"

SERVICE_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "aiflows",
    "POWERTOOLS_METRICS_NAMESPACE": "AiFlows",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

_ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", ".pytest_cache", "*.egg-info", "pyproject.toml"]
# What a capability folder holds for development only: its tests and its local-model heuristic.
_DEVELOPMENT_ONLY = ["test_*.py", "tests", "local_model.py", "conftest.py"]

Invoker = Literal["flow", "queue", "api"]
_DLQ_REASONS: dict[Invoker, str] = {
    "flow": "Capabilities are invoked synchronously by Step Functions Task states, whose "
    "Retry and Catch handle failures; an async-invocation DLQ would never be used.",
    "queue": "This function is invoked by an SQS event source mapping, never asynchronously: a "
    "failed message returns to its queue, whose redrive policy moves it to the queue's DLQ.",
    "api": "This function is invoked synchronously by API Gateway's Lambda proxy integration: "
    "the caller receives the error; an async-invocation DLQ would never be used.",
}


def capability_code(capability: str, functions: Path = FUNCTIONS) -> lambda_.Code:
    """The capability's folder as a package: ``<asset>/<capability>/``, nothing else of ``functions/``.

    The handler is then ``<capability>.handler.lambda_handler``, and the folder's
    modules import each other relatively (``from . import logic``): no two
    capabilities' modules share a name, in Lambda or in one test process.
    """
    excludes = ["*", f"!{capability}", f"!{capability}/**"]
    excludes += [f"{capability}/{pattern}" for pattern in _DEVELOPMENT_ONLY]
    return lambda_.Code.from_asset(str(functions), exclude=[*excludes, *_ASSET_EXCLUDES])


def foundation_model_arn(scope: Construct, model_id: str, region: str | None = None) -> str:
    """``arn:<partition>:bedrock:<region>::foundation-model/<model id>``, in the stack's region by default."""
    return Stack.of(scope).format_arn(
        service="bedrock",
        account="",
        region=region,
        resource="foundation-model",
        resource_name=model_id,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def inference_profile_arn(scope: Construct, profile_id: str) -> str:
    """``arn:<partition>:bedrock:<region>:<account>:inference-profile/<profile id>``, stack's region."""
    return Stack.of(scope).format_arn(
        service="bedrock",
        resource="inference-profile",
        resource_name=profile_id,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def model_grants(scope: Construct, called: Invocation) -> list[str]:
    """What ``bedrock:InvokeModel`` needs for one call (the Bedrock user guide, "Prerequisites for
    inference profiles"): in region, the foundation model in the calling region; through a profile,
    the profile in the calling region and the foundation model in each region it routes to."""
    if not called.through_profile:
        return [foundation_model_arn(scope, called.model)]
    return [
        inference_profile_arn(scope, called.model_id),
        *(foundation_model_arn(scope, called.model, region) for region in called.destinations),
    ]


class ModelRegionError(RegionError):
    """A capability routes to a model that routing.toml gives no id in the deploy region."""


def region_condition(scope: Construct, regions: Sequence[str]) -> CfnCondition:
    """The stack's condition that it is deployed in one of ``regions``: one per set of regions."""
    stack = Stack.of(scope)
    name = "In" + "".join(region.title().replace("-", "") for region in sorted(regions))
    existing = stack.node.try_find_child(name)
    if isinstance(existing, CfnCondition):
        return existing
    return CfnCondition(stack, name, expression=_region_is_one_of(sorted(regions)))


def _region_is_one_of(regions: Sequence[str]) -> ICfnConditionExpression:
    """``AWS::Region`` is one of ``regions``: Fn::Or takes 2 to 10 conditions, so nested by tens."""
    terms: list[ICfnConditionExpression] = [Fn.condition_equals(Aws.REGION, region) for region in regions]
    while len(terms) > 1:
        terms = [
            Fn.condition_or(*chunk) if len(chunk) > 1 else chunk[0]
            for chunk in (terms[i : i + 10] for i in range(0, len(terms), 10))
        ]
    return terms[0]


def shared_runtime_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The project's shared runtime package as a layer: one per stack, whatever the caller."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("SharedRuntimeLayer")
    if existing is not None:
        return existing
    return lambda_.LayerVersion(
        stack,
        "SharedRuntimeLayer",
        code=lambda_.Code.from_asset(str(SHARED_RUNTIME), exclude=_ASSET_EXCLUDES),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="aiflows_runtime: contracts, model gateway, observability",
    )


@cache
def powertools_version(requirements: Path = REQUIREMENTS) -> str:
    """The Powertools release ``requirements.txt`` pins (``==``): the one the layer must carry.

    Read here only, so the template's layer and the pin (what every local test runs) cannot drift.
    """
    for line in requirements.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        name, _, version = requirement.partition("==")
        if re.sub(r"[-_.]+", "-", name.strip()).lower() == POWERTOOLS_DISTRIBUTION and version.strip():
            return version.strip()
    raise ValueError(f"{requirements}: no {POWERTOOLS_DISTRIBUTION}==<version> pin; pin the release there")


def powertools_parameter_name(version: str | None = None) -> str:
    """The SSM parameter holding the ARN of the Powertools layer for the pinned release, python3.12, arm64."""
    return POWERTOOLS_PARAMETER.format(
        architecture=ARCHITECTURE.name,
        runtime=RUNTIME.name,
        version=version or powertools_version(),
    )


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The public Powertools layer of the pinned release, resolved at deploy time: one per stack.

    The ARN is the value of Powertools' SSM parameter, which CloudFormation reads when it
    creates or updates the stack (a parameter of type ``AWS::SSM::Parameter::Value<String>``):
    synth stays offline, and the partition, region and publisher account are the parameter's,
    never written in the template. A region the stack does not support is refused here.
    """
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("PowertoolsLayer")
    if existing is not None:
        return existing
    require_supported_region(stack.region, setting=f"the env region of stack {stack.stack_name}")
    supported_region_rule(stack)
    version = powertools_version()
    arn = CfnParameter(
        stack,
        POWERTOOLS_PARAMETER_ID,
        type="AWS::SSM::Parameter::Value<String>",
        default=powertools_parameter_name(version),
        description=(
            f"The ARN of the Powertools for AWS Lambda (Python) {version} layer (requirements.txt's pin) "
            f"for {RUNTIME.name} on {ARCHITECTURE.name}, read from Powertools' public SSM parameter."
        ),
    )
    return lambda_.LayerVersion.from_layer_version_arn(stack, "PowertoolsLayer", arn.value_as_string)


class CapabilityFunction(Construct):
    """A capability's Lambda function: code from ``functions/<capability>/``.

    The function has its own role, granted only what it needs (its log group and
    X-Ray), instead of the managed AWSLambdaBasicExecutionRole, which would let it
    write to any log group of the account.

    ``models`` are the models of the capability's route (its manifest's ``[model]``):
    its role may ``bedrock:InvokeModel`` (which also authorizes Converse) on exactly
    the ids routing.toml gives them in the deploy region: the foundation model, or an
    inference profile and the foundation model in each region it routes to
    (:meth:`_allow_model_calls`). Without ``code_dir``, the code is the capability's
    folder of ``functions/`` as a package (:func:`capability_code`).
    ``answers_task_tokens`` lets it answer the task tokens of the flows that wait on
    it (``states:SendTask*``). ``invoked_by`` says who invokes it, a flow's Task
    states or a queue's event source mapping, for the acknowledgement that it needs
    no asynchronous-invocation DLQ.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        capability: str,
        environment: Mapping[str, str] | None = None,
        memory_size: int = 512,
        timeout: Duration | None = None,
        code_dir: Path | None = None,
        models: Sequence[str] = (),
        answers_task_tokens: bool = False,
        invoked_by: Invoker = "flow",
    ) -> None:
        super().__init__(scope, construct_id)
        self.capability = capability
        extra = dict(environment or {})
        # the service name is the stage's (aiflows, or aiflows-<stage>): each stage's metrics apart
        stage = stage_of(self)
        service = {"POWERTOOLS_SERVICE_NAME": stage.prefix}
        # how long the audit trail keeps what a function records (request_review, act, review_api)
        kept = {"AUDIT_RETENTION_DAYS": str(stage.audit_retention_days)}
        defaults = {**SERVICE_ENVIRONMENT, **service, **kept, "CAPABILITY": capability}
        clashes = sorted(defaults.keys() & extra.keys())
        if clashes:
            raise ValueError(f"{capability}: environment may not override {clashes}")

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=policy_of(self).log_removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"aiflows {capability} capability",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Default",
            code=lambda_.Code.from_asset(str(code_dir), exclude=_ASSET_EXCLUDES)
            if code_dir
            else capability_code(capability),
            handler=HANDLER if code_dir else f"{capability}.{HANDLER}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(30),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            role=self.role,
            environment={**defaults, **extra},
            layers=[powertools_layer(self), shared_runtime_layer(self)],
            description=f"aiflows capability: {capability}",
        )
        self.models: tuple[str, ...] = tuple(models)
        self.model_policies: dict[str, iam.Policy] = {}
        if self.models:
            self._allow_model_calls()
        if answers_task_tokens:
            self._allow_task_token_answers()
        self._acknowledge_findings(invoked_by)

    def _allow_model_calls(self) -> None:
        """``bedrock:InvokeModel`` (which Converse needs) on exactly the ids the route calls in the region.

        The template names no region, and the ids differ by region (routing.toml, "models per
        region"): the regions that call the route's models alike share one policy, created only in
        those regions (a CloudFormation condition on ``AWS::Region``). A region where routing.toml
        gives a routed model no id is refused: at synth when the region is known, and by the
        template's rule before CloudFormation creates anything.
        """
        policy = routing_policy()
        shapes: dict[tuple[Invocation, ...], list[str]] = {}
        uncallable: dict[str, list[str]] = {}
        for region in SUPPORTED_REGIONS:
            calls = [policy.invocation(model, region) for model in self.models]
            missing = [model for model, called in zip(self.models, calls, strict=True) if called is None]
            if missing:
                uncallable[region] = missing
                continue
            # the same grants wherever each model is called the same way: in region (the calling
            # region's foundation model), or through the same profile (its destinations)
            shape = tuple(
                replace(called, region="", destinations=called.destinations if called.through_profile else ())
                for called in calls
                if called is not None
            )
            shapes.setdefault(shape, []).append(region)
        callable_regions = [region for regions in shapes.values() for region in regions]
        manifest = f"functions/{self.capability}/capability.toml"
        if not callable_regions:
            raise ModelRegionError(
                f"{manifest}: [model] routes to {list(self.models)}, which policies/routing.toml gives no id "
                "in any one supported region together. Fix: route to models offered in the regions you "
                "deploy to, or list the region in routing.toml (docs/capabilities.md#models-per-region)"
            )
        self._refuse_a_known_region(uncallable, callable_regions, manifest)
        if uncallable:
            CfnRule(
                self,
                "ModelsInRegion",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_contains(sorted(callable_regions), Aws.REGION),
                        assert_description=(
                            f"{self.capability} routes to {', '.join(self.models)}, which "
                            "policies/routing.toml gives an id together only in "
                            f"{', '.join(sorted(callable_regions))}: deploy there, or change the route in "
                            f"{manifest}"
                        ),
                    )
                ],
            )
        for shape, regions in shapes.items():
            name = "Bedrock" + "".join(
                (called.geography or "in-region").title().replace("-", "") for called in shape
            )
            statement = iam.PolicyStatement(
                actions=["bedrock:InvokeModel"],
                resources=list(dict.fromkeys(arn for called in shape for arn in model_grants(self, called))),
            )
            granted = iam.Policy(self, name, roles=[self.role], statements=[statement])
            if len(shapes) > 1:
                cfn = granted.node.default_child
                assert isinstance(cfn, CfnResource)
                cfn.cfn_options.condition = region_condition(self, regions)
            self.model_policies[name] = granted

    def _refuse_a_known_region(
        self, uncallable: Mapping[str, Sequence[str]], callable_regions: Sequence[str], manifest: str
    ) -> None:
        """At synth, the region is known when the stack has one, or the CDK CLI passed its own."""
        stack = Stack.of(self)
        known = not Token.is_unresolved(stack.region)
        region = stack.region if known else os.environ.get(REGION_SETTING)
        if region and region in uncallable:
            setting = f"the env region of stack {stack.stack_name}" if known else REGION_SETTING
            raise ModelRegionError(
                f"region {region!r} (from {setting}): {manifest} [model] routes to "
                f"{', '.join(uncallable[region])}, which policies/routing.toml gives no id in {region} (no "
                f"in_region, no profile with it among its sources). Fix: deploy to one of "
                f"{', '.join(sorted(callable_regions))}; or route the capability to models offered in "
                f"{region}; or add the model's inference profile for {region} to routing.toml "
                "(docs/capabilities.md#models-per-region)"
            )

    def _allow_task_token_answers(self) -> None:
        """SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat, in a policy of their own.

        A policy of its own, so that its acknowledgement (these actions take a task
        token, not a resource) sits on exactly these statements.
        """
        policy = iam.Policy(
            self,
            "TaskTokenPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                    resources=["*"],
                )
            ],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "states:SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat name no resource (the "
            "task token identifies the execution): '*' is the only resource they accept.",
        )

    def _acknowledge_findings(self, invoked_by: Invoker) -> None:
        """Each on the exact resource the finding is about, with why it stands."""
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which "
            "support no resource-level permissions: '*' is the only valid resource.",
        )
        for finding in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self.function.node.find_child("Resource"),
                finding,
                "python3.12 is pinned on purpose: the public Powertools layer and the shared "
                "runtime layer are built for python3.12 on arm64; move them together.",
            )
        acknowledge(
            self.function.node.find_child("Resource"), "Serverless-LambdaDLQ", _DLQ_REASONS[invoked_by]
        )
