"""``python -m aiflows doctor``: what a deploy needs of the account and the region, each with its fix.

    python -m aiflows doctor [--profile P] [--region R] [--stage S] [--assembly cdk.out] [--json]

Each check reads what the app asks for from the synthesized cloud assembly and the
repository (the routing policy, the Powertools pin) and asks the account whether it has
it, in the deploy region:

- ``bootstrap``: the CDK bootstrap version in SSM against the assembly's
  ``requiresBootstrapStackVersion``;
- ``models``: every model the capabilities' routes name, by the id the routing policy gives
  it in the region, available and enabled (GetFoundationModelAvailability), and each
  cross-region inference profile active, routing to the destinations the policy grants;
- ``layer``: the Powertools layer's SSM parameter for the pinned release;
- ``lambda concurrency``: the account's concurrent executions against the concurrency the
  flows configure (Map MaxConcurrency, the work queue's maximum concurrency, reserved);
- ``bedrock quotas``: each routed model's requests and tokens per minute quotas against the
  calls that concurrency makes;
- ``stack``: once deployed, the stack's status and every output answering.

Every outcome is ``ok``, ``FAIL`` (with the exact fix) or ``could not check`` (with why).
The exit code is 1 when a check fails, 0 otherwise, 2 when there is nothing to ask (no
credentials, no region, an unsupported region). docs/doctor.md describes each check.
The AWS calls are the :class:`Account`'s; the checks are functions of their answers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiflows.registry import ROOT, CapabilityInfo, camel
from localcloud.state_machines import referenced  # a template's Ref or GetAtt, read one way

Outcome = Literal["ok", "FAIL", "could not check"]
OK: Outcome = "ok"
FAIL: Outcome = "FAIL"
UNCHECKED: Outcome = "could not check"

DEFAULT_STAGE = "prod"  # infra.stage.DEFAULT_NAME: not imported, infra/ loads aws_cdk at every CLI start
LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384"  # Lambda's "Concurrent executions", per account and region
LAMBDA_UNRESERVED_FLOOR = 100  # Lambda keeps this much of the account's concurrency unreserved
HTTP_TIMEOUT_SECONDS = 5.0
ROUTING_TOML = "functions/runtime/python/aiflows_runtime/policies/routing.toml"


@dataclass(frozen=True)
class Finding:
    """One check's outcome about one subject, with what was found and, for a failure, the fix."""

    check: str
    subject: str
    outcome: Outcome
    finding: str
    fix: str = ""


@dataclass(frozen=True)
class Unanswered:
    """An AWS call that gave no answer to judge by (access denied, not modeled, unreachable)."""

    reason: str


@dataclass(frozen=True)
class NotAsked(Unanswered):
    """A question the doctor did not ask, and why (a URL that a local endpoint cannot serve)."""


class DoctorError(Exception):
    """Nothing can be checked (no credentials, no or an unsupported region): the message says why."""


def stack_name(stage: str = DEFAULT_STAGE) -> str:
    """The stack a stage deploys, as the app names it (infra/stage.py); a bad name is a DoctorError."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from infra.stage import Stage, StageError, default_policy

    try:
        return Stage(stage, default_policy(stage)).stack_name
    except StageError as error:
        raise DoctorError(str(error).replace(f"context stage={stage!r}", f"--stage {stage!r}")) from None


def deploy_command(stage: str) -> str:
    return "npx cdk deploy" if stage == DEFAULT_STAGE else f"npx cdk deploy -c stage={stage}"


# --- what the app asks for: the assembly -----------------------------------------------------


@dataclass(frozen=True)
class Assembly:
    """One stack of a synthesized cloud assembly: its template and the bootstrap it requires."""

    stack_name: str
    required_bootstrap: int
    bootstrap_parameter: str
    template: dict[str, Any]


def read_assembly(directory: Path, name: str) -> Assembly:
    """The stack ``name`` of the assembly in ``directory`` (the only stack, if none has that name)."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise DoctorError(f"{directory}: no cloud assembly (manifest.json); run `make synth` first")
    artifacts = json.loads(manifest_path.read_text()).get("artifacts", {})
    stacks = {
        artifact.get("properties", {}).get("stackName") or artifact.get("displayName") or key: artifact
        for key, artifact in artifacts.items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    artifact = stacks.get(name) or (next(iter(stacks.values())) if len(stacks) == 1 else None)
    if artifact is None:
        raise DoctorError(f"{directory}: no stack {name!r} in the assembly (it holds {sorted(stacks)})")
    properties = artifact.get("properties", {})
    template = json.loads((directory / properties["templateFile"]).read_text())
    return Assembly(
        stack_name=name,
        required_bootstrap=int(properties.get("requiresBootstrapStackVersion", 1)),
        bootstrap_parameter=str(
            properties.get("bootstrapStackVersionSsmParameter", "/cdk-bootstrap/hnb659fds/version")
        ),
        template=template,
    )


@dataclass(frozen=True)
class Demand:
    """A bound on how many invocations run at once: a Map's MaxConcurrency, a queue's maximum."""

    source: str
    concurrency: int | None  # None: unbounded (a Map without MaxConcurrency)
    capabilities: tuple[str, ...]  # the capabilities those invocations run, one at a time each


def function_capabilities(template: Mapping[str, Any]) -> dict[str, str]:
    """Each capability function's logical id -> its capability, by the ``<Name>FunctionName`` outputs."""
    from aiflows.registry import capabilities

    by_output = {f"{camel(name)}FunctionName": name for name in capabilities()}
    found = {}
    for key, output in template.get("Outputs", {}).items():
        logical = referenced(output.get("Value"))
        if key in by_output and logical:
            found[logical] = by_output[key]
    return found


def _maps(states: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Map":
            yield name, state
        inner = state.get("ItemProcessor") or state.get("Iterator") or {}
        yield from _maps(inner.get("States", {}))
        for branch in state.get("Branches", []):
            yield from _maps(branch.get("States", {}))


def concurrency_demands(template: Mapping[str, Any]) -> list[Demand]:
    """What the deployed template lets run at once: each Map's children, each queue's workers."""
    from aiflows.flows import flows

    functions = function_capabilities(template)
    prefixes = {flow.construct_id: name for name, flow in flows().items()}
    demands = []
    for logical, resource in sorted(template.get("Resources", {}).items()):
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::StepFunctions::StateMachine":
            definition = properties.get("DefinitionString")
            if not isinstance(definition, str):
                continue
            flow = next((f for p, f in prefixes.items() if logical.startswith(p)), logical)
            substitutions = {
                key: functions.get(referenced(value) or "")
                for key, value in properties.get("DefinitionSubstitutions", {}).items()
            }
            for name, state in _maps(json.loads(definition).get("States", {})):
                bindings = re.findall(r"\$\{(\w+)\}", json.dumps(state))
                invoked = tuple(sorted({c for b in bindings if (c := substitutions.get(b))}))
                limit = state.get("MaxConcurrency")
                demands.append(
                    Demand(
                        f"{flow}: Map {name}",
                        int(limit) if isinstance(limit, int) and limit > 0 else None,
                        invoked,
                    )
                )
        elif resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            maximum = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
            capability = functions.get(referenced(properties.get("FunctionName")) or "")
            if isinstance(maximum, int) and capability:
                demands.append(Demand(f"{capability}: its queue's event source", maximum, (capability,)))
    return demands


def reserved_concurrency(template: Mapping[str, Any]) -> dict[str, int]:
    """The functions with reserved concurrency, by logical id (a capability's name where known)."""
    functions = function_capabilities(template)
    return {
        functions.get(logical, logical): int(resource["Properties"]["ReservedConcurrentExecutions"])
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Lambda::Function"
        and isinstance(resource.get("Properties", {}).get("ReservedConcurrentExecutions"), int)
    }


@dataclass(frozen=True)
class ModelDemand:
    """The calls to one model at once, at the flows' configured concurrency, and their size."""

    model: str
    concurrency: int
    max_tokens: int
    sources: tuple[str, ...] = field(default_factory=tuple)


def model_demands(demands: Iterable[Demand], routes: Mapping[str, CapabilityInfo]) -> dict[str, ModelDemand]:
    """Each bounded demand's calls to the primary model of each capability it runs."""
    found: dict[str, ModelDemand] = {}
    for demand in demands:
        if demand.concurrency is None:
            continue
        for capability in demand.capabilities:
            route = routes[capability].manifest.model if capability in routes else None
            if route is None:
                continue
            seen = found.get(route.primary)
            found[route.primary] = ModelDemand(
                route.primary,
                (seen.concurrency if seen else 0) + demand.concurrency,
                max(seen.max_tokens if seen else 0, route.max_tokens),
                (*(seen.sources if seen else ()), f"{demand.source} ({demand.concurrency})"),
            )
    return found


# --- the checks: functions of what the account answered ----------------------------------------


def check_bootstrap(
    assembly: Assembly, deployed: str | Unanswered | None, account: str, region: str
) -> Finding:
    fix = f"npx cdk bootstrap aws://{account}/{region}"
    subject = assembly.bootstrap_parameter
    if isinstance(deployed, Unanswered):
        return Finding("bootstrap", subject, UNCHECKED, f"ssm:GetParameter gave no answer: {deployed.reason}")
    if deployed is None:
        return Finding(
            "bootstrap", subject, FAIL, f"the environment aws://{account}/{region} is not bootstrapped", fix
        )
    try:
        version = int(deployed)
    except ValueError:
        return Finding(
            "bootstrap", subject, FAIL, f"the bootstrap version is {deployed!r}, not a number", fix
        )
    needed = assembly.required_bootstrap
    if version < needed:
        return Finding(
            "bootstrap",
            subject,
            FAIL,
            f"bootstrap version {version}; the app's templates require {needed}",
            fix,
        )
    return Finding(
        "bootstrap", subject, OK, f"bootstrap version {version} (the app requires {needed} or later)"
    )


def check_layer(
    parameter: str, value: str | Unanswered | None, template_default: str | None, region: str
) -> list[Finding]:
    findings = []
    if template_default is not None and template_default != parameter:
        findings.append(
            Finding(
                "layer",
                "the assembly",
                FAIL,
                f"the assembly's layer parameter is {template_default}, not the pin's {parameter}",
                "make synth (the assembly is older than requirements.txt's pin)",
            )
        )
    if isinstance(value, Unanswered):
        findings.append(
            Finding("layer", parameter, UNCHECKED, f"ssm:GetParameter gave no answer: {value.reason}")
        )
    elif value is None:
        latest = parameter.rsplit("/", 1)[0] + "/latest"
        findings.append(
            Finding(
                "layer",
                parameter,
                FAIL,
                f"no such parameter in {region}: Powertools published no layer of the pinned release there",
                f"pin a published release: `aws ssm get-parameter --name {latest} --region {region}` "
                "gives the "
                "latest layer's ARN (its release is in the layer's name and description); set "
                "aws-lambda-powertools==<release> in requirements.txt, then make synth",
            )
        )
    else:
        findings.append(Finding("layer", parameter, OK, f"resolves to {value}"))
    return findings


def check_api_logging_role(
    assembly: Assembly, role: str | Unanswered | None, region: str, stage: str
) -> Finding:
    """API Gateway logs a REST API's stage through one CloudWatch role per account and region; a stage
    with logging on (the review API's) deploys only where it is set (infra/stage.py, ``Stage``)."""
    subject = "API Gateway's CloudWatch role"
    if any(
        r.get("Type") == "AWS::ApiGateway::Account" for r in assembly.template.get("Resources", {}).values()
    ):
        return Finding("api logging", subject, OK, "the stack sets it (-c api_gateway_account=true)")
    if isinstance(role, Unanswered):
        return Finding(
            "api logging", subject, UNCHECKED, f"apigateway:GetAccount gave no answer: {role.reason}"
        )
    if not role:
        return Finding(
            "api logging",
            subject,
            FAIL,
            f"no CloudWatch role is set for API Gateway in {region}: the review API's stage, which logs, "
            "would fail to deploy ('CloudWatch Logs role ARN must be set in account settings')",
            f"{deploy_command(stage)} -c api_gateway_account=true (once per account and region, from a "
            "production stage), or set one: aws apigateway update-account --patch-operations "
            "op=replace,path=/cloudwatchRoleArn,value=<role ARN>",
        )
    return Finding("api logging", subject, OK, f"set: {role}")


def model_access_page(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/bedrock/home?region={region}#/modelaccess"


def check_model(
    model: str,
    capabilities: Iterable[str],
    region: str,
    model_id: str | None,
    availability: Mapping[str, Any] | Unanswered | None,
) -> Finding:
    """The model is available and enabled in the region (GetFoundationModelAvailability)."""
    used_by = ", ".join(sorted(capabilities))
    if model_id is None:
        return Finding(
            "models",
            model,
            FAIL,
            f"the routing policy gives {model} (routed by {used_by}) no id in {region}",
            f"deploy to a region its in_region or a profile's sources list, or add {region} there "
            f"in {ROUTING_TOML}",
        )
    fix = (
        f"enable {model} in the Bedrock console's Model access page for {region}: {model_access_page(region)}"
    )
    if isinstance(availability, Unanswered):
        return Finding(
            "models",
            model,
            UNCHECKED,
            f"bedrock:GetFoundationModelAvailability gave no answer: {availability.reason}",
        )
    if availability is None:
        return Finding("models", model, FAIL, f"Bedrock offers no model {model} in {region}", fix)
    problems = [
        f"{name} {value}"
        for name, value, good in (
            ("regionAvailability", availability.get("regionAvailability"), "AVAILABLE"),
            ("entitlementAvailability", availability.get("entitlementAvailability"), "AVAILABLE"),
            ("authorizationStatus", availability.get("authorizationStatus"), "AUTHORIZED"),
            ("agreement", (availability.get("agreementAvailability") or {}).get("status"), "AVAILABLE"),
        )
        if value is not None and value != good
    ]
    if problems:
        return Finding("models", model, FAIL, f"not enabled in {region}: {', '.join(problems)}", fix)
    how = "by its own id" if model_id == model else f"through {model_id}"
    return Finding("models", model, OK, f"available and enabled in {region}, called {how} by {used_by}")


def check_profile(
    profile_id: str,
    region: str,
    destinations: Iterable[str],
    profile: Mapping[str, Any] | Unanswered | None,
) -> Finding:
    """The inference profile is active in the region and routes where the policy grants (IAM)."""
    if isinstance(profile, Unanswered):
        return Finding(
            "models", profile_id, UNCHECKED, f"bedrock:GetInferenceProfile gave no answer: {profile.reason}"
        )
    if profile is None:
        return Finding(
            "models",
            profile_id,
            FAIL,
            f"no inference profile {profile_id} in {region}",
            f"remove {region} from the profile's sources in {ROUTING_TOML} (or deploy to a region the "
            f"profile serves: `aws bedrock list-inference-profiles --region {region}` lists them)",
        )
    if profile.get("status", "ACTIVE") != "ACTIVE":
        return Finding(
            "models",
            profile_id,
            FAIL,
            f"the inference profile is {profile.get('status')} in {region}",
            f"deploy to a region where it is ACTIVE, or route the model by its own id ({ROUTING_TOML})",
        )
    routed = {m["modelArn"].split(":")[3] for m in profile.get("models", []) if m.get("modelArn")}
    granted = set(destinations)
    ungranted = sorted(routed - granted)
    if ungranted:
        return Finding(
            "models",
            profile_id,
            FAIL,
            f"it routes calls to {', '.join(ungranted)}, which the policy does not list: IAM would deny them",
            f"add {', '.join(ungranted)} to the profile's destinations in {ROUTING_TOML}, then deploy",
        )
    return Finding("models", profile_id, OK, f"active in {region}, routes to {', '.join(sorted(routed))}")


def check_lambda_concurrency(
    settings: Mapping[str, Any] | Unanswered,
    demands: Iterable[Demand],
    reserved: Mapping[str, int],
    region: str,
) -> list[Finding]:
    demands = list(demands)
    subject = "concurrent executions"
    if isinstance(settings, Unanswered):
        return [
            Finding(
                "lambda concurrency",
                subject,
                UNCHECKED,
                f"lambda:GetAccountSettings gave no answer: {settings.reason}",
            )
        ]
    limits = settings.get("AccountLimit", {})
    total, unreserved = limits.get("ConcurrentExecutions"), limits.get("UnreservedConcurrentExecutions")
    if not isinstance(total, int) or not isinstance(unreserved, int):
        return [Finding("lambda concurrency", subject, UNCHECKED, "GetAccountSettings gave no AccountLimit")]
    bounded = [d for d in demands if d.concurrency is not None]
    needed = sum(d.concurrency or 0 for d in bounded)
    ours = sum(reserved.values())
    desired = ours + max(needed, LAMBDA_UNRESERVED_FLOOR)
    fix = (
        f"aws service-quotas request-service-quota-increase --service-code lambda --quota-code "
        f"{LAMBDA_CONCURRENCY_QUOTA} --desired-value {desired} --region {region}"
    )
    findings = []
    how = "; ".join(f"{d.source} {d.concurrency}" for d in bounded) or "no bounded source"
    if needed > unreserved:
        findings.append(
            Finding(
                "lambda concurrency",
                subject,
                FAIL,
                f"the flows run up to {needed} functions at once ({how}); the account has {unreserved} "
                f"unreserved of {total} in {region}",
                fix,
            )
        )
    else:
        findings.append(
            Finding(
                "lambda concurrency",
                subject,
                OK,
                f"{unreserved} unreserved of {total} in {region}; "
                f"the flows run up to {needed} at once ({how})",
            )
        )
    if ours and total - ours < LAMBDA_UNRESERVED_FLOOR:
        findings.append(
            Finding(
                "lambda concurrency",
                "reserved concurrency",
                FAIL,
                f"the stack reserves {ours} of {total}: Lambda keeps {LAMBDA_UNRESERVED_FLOOR} unreserved",
                fix,
            )
        )
    for demand in demands:
        if demand.concurrency is None:
            findings.append(
                Finding(
                    "lambda concurrency",
                    demand.source,
                    UNCHECKED,
                    "no MaxConcurrency: its children are bounded only by the account's concurrency",
                )
            )
    return findings


def quota_named(
    quotas: Iterable[Mapping[str, Any]], prefix: str, names: Iterable[str]
) -> Mapping[str, Any] | None:
    """The quota ``<prefix> <model's name>``; Bedrock names a model with or without its provider."""
    wanted = {f"{prefix} {name}".lower() for name in names}
    return next((q for q in quotas if str(q.get("QuotaName", "")).lower() in wanted), None)


def check_bedrock_quotas(
    demand: ModelDemand,
    region: str,
    through_profile: bool,
    call_seconds: float,
    names: tuple[str, str] | Unanswered,
    quotas: list[Mapping[str, Any]] | Unanswered,
) -> list[Finding]:
    """The model's requests and tokens per minute quotas hold the calls at the configured concurrency.

    At ``concurrency`` calls at once, each lasting at most ``call_seconds`` (the gateway's
    timeouts), the flows make at least ``concurrency * 60 / call_seconds`` calls a minute, each
    reserving up to ``max_tokens`` output tokens: a quota below that throttles the flows even
    when every call is as slow as it may be.
    """
    kind = "Cross-Region" if through_profile else "On-demand"
    if isinstance(names, Unanswered):
        return [
            Finding(
                "bedrock quotas",
                demand.model,
                UNCHECKED,
                f"bedrock:GetFoundationModel gave no answer: {names.reason}",
            )
        ]
    if isinstance(quotas, Unanswered):
        return [
            Finding(
                "bedrock quotas",
                demand.model,
                UNCHECKED,
                f"service-quotas:ListServiceQuotas gave no answer: {quotas.reason}",
            )
        ]
    provider, name = names
    candidates = (f"{provider} {name}", name)
    requests = math.ceil(demand.concurrency * 60 / call_seconds)
    findings = []
    for unit, needed in (("requests", requests), ("tokens", requests * demand.max_tokens)):
        prefix = f"{kind} InvokeModel {unit} per minute for"
        subject = f"{demand.model} {unit}/min"
        quota = quota_named(quotas, prefix, candidates)
        if quota is None:
            findings.append(
                Finding(
                    "bedrock quotas",
                    subject,
                    UNCHECKED,
                    f"no quota named '{prefix} {candidates[0]}' in {region}",
                    f"aws service-quotas list-service-quotas --service-code bedrock --region {region} "
                    f"--query \"Quotas[?contains(QuotaName, '{name}')].[QuotaName,QuotaCode,Value]\"",
                )
            )
            continue
        value = float(quota.get("Value", 0))
        shown = f"{value:.0f}" if value.is_integer() else f"{value:g}"
        why = f"{demand.concurrency} calls at once ({'; '.join(demand.sources)}) make at least {needed}"
        if value < needed:
            findings.append(
                Finding(
                    "bedrock quotas",
                    subject,
                    FAIL,
                    f"{quota['QuotaName']} is {shown}; {why}",
                    f"aws service-quotas request-service-quota-increase --service-code bedrock --quota-code "
                    f"{quota['QuotaCode']} --desired-value {needed} --region {region}",
                )
            )
        else:
            findings.append(Finding("bedrock quotas", subject, OK, f"{quota['QuotaName']} is {shown}; {why}"))
    return findings


StackAnswer = Mapping[str, Any] | None | Unanswered
OutputAnswer = str | Unanswered | None  # what answered; why it did not; None: no probe for it


def check_stack(
    name: str, region: str, stage: str, stack: StackAnswer, answers: Mapping[str, OutputAnswer]
) -> list[Finding]:
    if isinstance(stack, Unanswered):
        return [
            Finding("stack", name, UNCHECKED, f"cloudformation:DescribeStacks gave no answer: {stack.reason}")
        ]
    if stack is None:
        return [
            Finding(
                "stack",
                name,
                UNCHECKED,
                f"not deployed in {region} yet: run the doctor again after `{deploy_command(stage)}`",
            )
        ]
    status = str(stack.get("StackStatus", ""))
    findings = []
    if status.endswith("_FAILED") or "ROLLBACK" in status or status.endswith("IN_PROGRESS"):
        findings.append(
            Finding(
                "stack",
                name,
                FAIL,
                f"the stack is {status}: {stack.get('StackStatusReason', '')}".rstrip(": "),
                f"aws cloudformation describe-stack-events --stack-name {name} --region {region} says what "
                f"failed; fix it, then `{deploy_command(stage)}`",
            )
        )
    else:
        findings.append(Finding("stack", name, OK, f"{status} in {region}"))
    for key, answer in answers.items():
        if answer is None:
            findings.append(Finding("stack", key, UNCHECKED, "no probe for this output"))
        elif isinstance(answer, NotAsked):
            findings.append(Finding("stack", key, UNCHECKED, answer.reason))
        elif isinstance(answer, Unanswered):
            findings.append(
                Finding(
                    "stack",
                    key,
                    FAIL,
                    f"does not answer: {answer.reason}",
                    f"`{deploy_command(stage)}` (the resource behind {key} is gone or not ready)",
                )
            )
        else:
            findings.append(Finding("stack", key, OK, answer))
    return findings


# --- the account: one small adapter per AWS call ---------------------------------------------


def http_answers(url: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> str:
    """``HTTP <status>`` of a GET of the URL; any answer below 500 is the API answering (401 too)."""
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - the stack's own output
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return f"HTTP {answer.status}"
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise OSError(f"HTTP {error.code}") from None
        return f"HTTP {error.code}"


class Account:
    """The AWS calls the doctor makes, each answering a plain value or :class:`Unanswered`.

    ``client`` makes a boto3 client per service (a profile's, the local cloud's, a stubbed one);
    ``http`` requests a URL; ``local`` says the endpoint is not AWS, whose URLs it cannot serve.
    """

    def __init__(
        self, client: Callable[[str], Any], http: Callable[[str], str] = http_answers, local: bool = False
    ) -> None:
        self._client = client
        self._clients: dict[str, Any] = {}
        self.http = http
        self.local = local

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client(service)
        return self._clients[service]

    def _ask(self, call: Callable[[], Any], missing: tuple[str, ...] = ()) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in missing:
                return None
            message = str(error.response.get("Error", {}).get("Message", "")).strip()
            if not message or message.startswith("<"):  # an HTML page: the endpoint has no such action
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", code)
                return Unanswered(f"HTTP {status}: the endpoint does not serve this action")
            return Unanswered(f"{code or 'error'}: {message.splitlines()[0]}")
        except (BotoCoreError, OSError, ValueError) as error:
            return Unanswered(str(error) or type(error).__name__)

    def identity(self) -> str:
        """The account id (sts:GetCallerIdentity); a :class:`DoctorError` when there are no credentials."""
        answer = self._ask(lambda: self.client("sts").get_caller_identity()["Account"])
        if isinstance(answer, Unanswered):
            raise DoctorError(
                f"the credentials do not answer ({answer.reason}): configure them "
                "(`aws configure`, or `aws sso login --profile P` and --profile P)"
            )
        return str(answer)

    def parameter(self, name: str) -> str | Unanswered | None:
        answer = self._ask(
            lambda: self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"], ("ParameterNotFound",)
        )
        return answer if answer is None or isinstance(answer, Unanswered) else str(answer)

    def model_availability(self, model: str) -> Mapping[str, Any] | Unanswered | None:
        return self._ask(
            lambda: self.client("bedrock").get_foundation_model_availability(modelId=model),
            ("ResourceNotFoundException",),
        )

    def inference_profile(self, profile_id: str) -> Mapping[str, Any] | Unanswered | None:
        return self._ask(
            lambda: self.client("bedrock").get_inference_profile(inferenceProfileIdentifier=profile_id),
            ("ResourceNotFoundException",),
        )

    def model_names(self, model: str) -> tuple[str, str] | Unanswered:
        answer = self._ask(
            lambda: self.client("bedrock").get_foundation_model(modelIdentifier=model)["modelDetails"]
        )
        if answer is None or isinstance(answer, Unanswered):
            return answer or Unanswered(f"no model {model}")
        return str(answer.get("providerName", "")), str(answer.get("modelName", ""))

    def bedrock_quotas(self) -> list[Mapping[str, Any]] | Unanswered:
        def listed() -> list[Mapping[str, Any]]:
            pages = self.client("service-quotas").get_paginator("list_service_quotas")
            return [q for page in pages.paginate(ServiceCode="bedrock") for q in page.get("Quotas", [])]

        return self._ask(listed)

    def api_logging_role(self) -> str | Unanswered | None:
        answer = self._ask(lambda: self.client("apigateway").get_account())
        return answer if isinstance(answer, Unanswered) else (answer or {}).get("cloudwatchRoleArn") or None

    def account_settings(self) -> Mapping[str, Any] | Unanswered:
        return self._ask(lambda: self.client("lambda").get_account_settings())

    def stack(self, name: str) -> StackAnswer:
        def described() -> Any:
            from botocore.exceptions import ClientError

            try:
                return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
            except ClientError as error:
                if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
                    return None
                raise

        return self._ask(described)

    def rest_api(self, url: str) -> str:
        api_id = url.split("//", 1)[-1].split(".", 1)[0]
        api = self.client("apigateway").get_rest_api(restApiId=api_id)
        return f"REST API {api['id']} ({api.get('name', '')}) exists"

    def probes(self, outputs: Mapping[str, str]) -> dict[str, OutputAnswer]:
        """Each output's resource, asked whether it answers."""
        pool = next((v for k, v in outputs.items() if k.endswith("UserPoolId")), "")
        answers: dict[str, OutputAnswer] = {}
        for key, value in sorted(outputs.items()):
            probe = self._probe(key, value, pool)
            if probe is None:
                answers[key] = None
                continue
            if value.startswith("https://") and self.local and not key.endswith("QueueUrl"):
                answers[key] = self._ask(lambda url=value: self.rest_api(url))  # type: ignore[misc]
                answers[f"{key} over HTTP"] = NotAsked(
                    "the URL names AWS's host, which a local endpoint does not serve: not requested"
                )
                continue
            answered = self._ask(probe)
            answers[key] = answered if isinstance(answered, Unanswered) else str(answered)
        return answers

    def _probe(self, key: str, value: str, pool: str) -> Callable[[], str] | None:
        """The call that asks whether an output's resource answers, by the output's name."""
        call: tuple[str, str, dict[str, Any], Callable[[Any], str]] | None = None
        arguments: dict[str, Any]
        if key == "EventBusName":
            call = ("events", "describe_event_bus", {"Name": value}, lambda a: f"bus {a['Name']} exists")
        elif key.endswith(("StateMachineArn", "VersionArn")):
            call = (
                "stepfunctions",
                "describe_state_machine",
                {"stateMachineArn": value},
                lambda a: a["status"],
            )
        elif key.endswith("AliasArn"):
            arguments = {"stateMachineAliasArn": value}
            call = (
                "stepfunctions",
                "describe_state_machine_alias",
                arguments,
                lambda a: f"alias {a['name']}",
            )
        elif key.endswith("QueueUrl"):
            waiting = "ApproximateNumberOfMessages"
            arguments = {"QueueUrl": value, "AttributeNames": [waiting]}
            count: Callable[[Any], str] = lambda a: f"{a['Attributes'][waiting]} message(s) waiting"  # noqa: E731
            call = ("sqs", "get_queue_attributes", arguments, count)
        elif key.endswith("FunctionName"):
            state: Callable[[Any], str] = lambda a: str(a.get("State", "Active"))  # noqa: E731
            call = ("lambda", "get_function_configuration", {"FunctionName": value}, state)
        elif key.endswith("TableName"):
            arguments = {"TableName": value}
            call = ("dynamodb", "describe_table", arguments, lambda a: str(a["Table"]["TableStatus"]))
        elif key.endswith("BucketName"):
            call = ("s3", "head_bucket", {"Bucket": value}, lambda a: "bucket exists")
        elif key.endswith("TopicArn"):
            call = ("sns", "get_topic_attributes", {"TopicArn": value}, lambda a: "topic exists")
        elif key.endswith("UserPoolId"):
            pool_name: Callable[[Any], str] = lambda a: f"user pool {a['UserPool']['Name']}"  # noqa: E731
            call = ("cognito-idp", "describe_user_pool", {"UserPoolId": value}, pool_name)
        elif key.endswith("ClientId") and pool:
            arguments = {"UserPoolId": pool, "ClientId": value}
            client_name: Callable[[Any], str] = lambda a: "app client exists"  # noqa: E731
            call = ("cognito-idp", "describe_user_pool_client", arguments, client_name)
        elif value.startswith("https://"):
            return lambda: self.http(value)
        if call is None:
            return None
        service, method, arguments, answer = call

        def asked() -> str:
            answered = getattr(self.client(service), method)(**arguments)
            try:
                return answer(answered)
            except (KeyError, TypeError):  # it answered, without the detail the line quotes
                return f"{method} answered"

        return asked


# --- the run ---------------------------------------------------------------------------------


def routed_models() -> dict[str, tuple[str, ...]]:
    """Each model a capability's route names -> the capabilities that route to it."""
    from aiflows.registry import capabilities

    found: dict[str, list[str]] = {}
    for name, info in capabilities().items():
        for model in info.route_models:
            found.setdefault(model, []).append(name)
    return {model: tuple(names) for model, names in sorted(found.items())}


def diagnose(account: Account, assembly: Assembly, region: str, stage: str, account_id: str) -> list[Finding]:
    """Every check, in the order a deploy meets them."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from aiflows.registry import capabilities
    from aiflows_runtime.policies import routing_policy
    from infra.constructs.capability_function import POWERTOOLS_PARAMETER_ID, powertools_parameter_name

    findings = [
        check_bootstrap(assembly, account.parameter(assembly.bootstrap_parameter), account_id, region)
    ]
    policy = routing_policy()
    routed = routed_models()
    invocations = {model: policy.invocation(model, region) for model in routed}
    for model, capabilities_of in routed.items():
        invocation = invocations[model]
        findings.append(
            check_model(
                model,
                capabilities_of,
                region,
                invocation.model_id if invocation else None,
                account.model_availability(model) if invocation else None,
            )
        )
        if invocation is not None and invocation.through_profile:
            profile = account.inference_profile(invocation.model_id)
            findings.append(check_profile(invocation.model_id, region, invocation.destinations, profile))
    findings.append(check_api_logging_role(assembly, account.api_logging_role(), region, stage))
    layer = powertools_parameter_name()
    default = assembly.template.get("Parameters", {}).get(POWERTOOLS_PARAMETER_ID, {}).get("Default")
    findings += check_layer(layer, account.parameter(layer), default, region)
    demands = concurrency_demands(assembly.template)
    findings += check_lambda_concurrency(
        account.account_settings(), demands, reserved_concurrency(assembly.template), region
    )
    per_model = model_demands(demands, capabilities())
    if per_model:
        quotas = account.bedrock_quotas()
        call_seconds = policy.gateway.connect_timeout_seconds + policy.gateway.read_timeout_seconds
        for model, demand in sorted(per_model.items()):
            invocation = invocations.get(model)
            if invocation is None:
                continue  # the models check has failed it already
            findings += check_bedrock_quotas(
                demand, region, invocation.through_profile, call_seconds, account.model_names(model), quotas
            )
    stack = account.stack(assembly.stack_name)
    outputs = (
        {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if isinstance(stack, Mapping)
        else {}
    )
    findings += check_stack(
        assembly.stack_name, region, stage, stack, account.probes(outputs) if outputs else {}
    )
    return findings


def render(findings: Iterable[Finding]) -> str:
    findings = list(findings)
    width = max((len(f.check) for f in findings), default=5)
    lines = []
    for finding in findings:
        lines.append(f"{finding.outcome:<15} {finding.check:<{width}}  {finding.subject}: {finding.finding}")
        if finding.fix and finding.outcome != OK:
            lines.append(f"{'':<15} {'':<{width}}  fix: {finding.fix}")
    counts = {o: sum(f.outcome == o for f in findings) for o in (OK, FAIL, UNCHECKED)}
    lines.append(f"\n{counts[OK]} ok, {counts[FAIL]} failed, {counts[UNCHECKED]} could not be checked")
    return "\n".join(lines)


def exit_code(findings: Iterable[Finding]) -> int:
    return 1 if any(f.outcome == FAIL for f in findings) else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default=os.environ.get("AWS_PROFILE"), help="the AWS profile to check")
    parser.add_argument("--region", help="the deploy region (default: the profile's, or AWS_REGION)")
    parser.add_argument("--stage", default=DEFAULT_STAGE, help="the stage to deploy (-c stage=...)")
    parser.add_argument("--assembly", default="cdk.out", help="the synthesized app (`make synth` if missing)")
    parser.add_argument(
        "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="e.g. the local cloud"
    )
    parser.add_argument("--json", action="store_true", help="the findings as JSON")


def _synthesize(directory: Path) -> None:
    print(f"no cloud assembly in {directory}: running `make synth`", file=sys.stderr)
    done = subprocess.run(["make", "synth"], cwd=ROOT, check=False)  # noqa: S607 - the project's own target
    if done.returncode:
        raise DoctorError("`make synth` failed: fix what it says, then run the doctor again")


def account_for(profile: str | None, region: str | None, endpoint_url: str | None) -> tuple[Account, str]:
    """An :class:`Account` of the profile in the region, and the region; a :class:`DoctorError` otherwise."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as error:
        raise DoctorError(f"{error}: name a profile of ~/.aws/config with --profile") from None
    chosen = session.region_name
    if not chosen:
        raise DoctorError("no region: give --region, or set AWS_REGION or the profile's region")
    if session.get_credentials() is None:
        raise DoctorError(
            "no AWS credentials: configure them (`aws configure`, or `aws sso login --profile P` and "
            "--profile P), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=20)
    return (
        Account(
            lambda service: session.client(service, endpoint_url=endpoint_url, config=config),
            local=endpoint_url is not None,
        ),
        chosen,
    )


def check_region(region: str) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from infra.regions import RegionError, require_supported_region

    try:
        require_supported_region(region, setting="--region, AWS_REGION or the profile's region")
    except RegionError as error:
        raise DoctorError(str(error)) from None


def main(args: argparse.Namespace, account: Account | None = None) -> int:
    """``python -m aiflows doctor``: print the findings; 1 if one failed, 2 if nothing could be asked."""
    try:
        stage = args.stage
        name = stack_name(stage)
        region = args.region
        if account is None:
            account, region = account_for(args.profile, args.region, args.endpoint_url)
        check_region(region)
        account_id = account.identity()
        directory = Path(args.assembly)
        if not (directory / "manifest.json").is_file() and args.assembly == "cdk.out":
            _synthesize(directory)
        assembly = read_assembly(directory, name)
        findings = diagnose(account, assembly, region, stage, account_id)
    except DoctorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        print(f"aiflows doctor: stack {assembly.stack_name} (stage {stage}) in {region}\n")
        print(render(findings))
    return exit_code(findings)
