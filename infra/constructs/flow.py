"""A flow: an ASL definition bound to the stack's resources, least privilege.

A file-based definition gets no automatic permissions from CDK. ``Flow`` takes the
definition that deploys (for a flow of ``statemachines/``, the one ``infra.weave``
wove), checks that every ``${Name}`` in it has a binding and every binding is used,
that each state has only the fields of its query language (JSONPath or JSONata),
checks every Task against its function's contracts (``infra.contract_check``), and
derives the state machine's grants from its Task states, and from nothing else: a
Task that calls a resource is the only reason to be allowed to call it. A JSONPath
Task names its resource in ``Parameters``, a JSONata one in ``Arguments``.

Each deploy that changes the definition publishes a new version, and the ``live``
alias routes every execution to it. Callers start the alias, so a bad deploy is
rolled back by pointing ``live`` at the previous version (the replaced version is
retained, not deleted), without redeploying anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from aiflows.registry import CapabilityInfo
from infra.contract_check import (
    JSONATA,
    arguments_of,
    check_definition,
    is_expression,
    language_of,
    language_problems,
    named_at_run_time,
    walk_states,
)
from infra.nag import acknowledge

_SUBSTITUTION = re.compile(r"\$\{(\w+)\}")
_BOUND = re.compile(r"^\$\{(\w+)\}$")
LIVE_ALIAS = "live"
_INTEGRATION = re.compile(r"^arn:aws:states:::(?P<service>[a-z]+):(?P<action>[A-Za-z]+)(?P<pattern>\.\w+)?$")


class FlowDefinitionError(ValueError):
    """A flow definition that cannot be deployed as written: synth stops with its message."""


@dataclass(frozen=True)
class ResourceKind:
    """What a binding may be, and which of its attributes replaces ``${Name}``."""

    name: str
    attribute: str  # e.g. ``function_arn``: present on every IFunction, and only there


FUNCTION = ResourceKind("function", "function_arn")
EVENT_BUS = ResourceKind("event bus", "event_bus_name")
QUEUE = ResourceKind("queue", "queue_url")
TABLE = ResourceKind("table", "table_name")
BUCKET = ResourceKind("bucket", "bucket_name")
KINDS = (FUNCTION, EVENT_BUS, QUEUE, TABLE, BUCKET)


def kind_of(resource: object) -> ResourceKind | None:
    """The kind of a bound resource, by the attribute its CDK interface defines.

    jsii interfaces (``IFunction``...) are not runtime-checkable in Python, so the
    check looks for the interface's identifying attribute on the class.
    """
    for kind in KINDS:
        if hasattr(type(resource), kind.attribute):
            return kind
    return None


@dataclass(frozen=True)
class Need:
    """One permission a Task state needs on one bound resource."""

    state: str
    binding: str
    kind: ResourceKind
    action: str  # an IAM action, e.g. ``lambda:InvokeFunction``


@dataclass(frozen=True)
class _Integration:
    kind: ResourceKind
    parameter: str  # the field of Parameters (JSONPath) or Arguments (JSONata) that names the resource
    action: str
    patterns: frozenset[str]


_CALL = frozenset({"", ".waitForTaskToken"})
_REQUEST = frozenset({""})
INTEGRATIONS: dict[tuple[str, str], _Integration] = {
    ("lambda", "invoke"): _Integration(FUNCTION, "FunctionName", "lambda:InvokeFunction", _CALL),
    ("events", "putEvents"): _Integration(EVENT_BUS, "EventBusName", "events:PutEvents", _CALL),
    ("sqs", "sendMessage"): _Integration(QUEUE, "QueueUrl", "sqs:SendMessage", _CALL),
    ("dynamodb", "getItem"): _Integration(TABLE, "TableName", "dynamodb:GetItem", _REQUEST),
    ("dynamodb", "putItem"): _Integration(TABLE, "TableName", "dynamodb:PutItem", _REQUEST),
    ("dynamodb", "updateItem"): _Integration(TABLE, "TableName", "dynamodb:UpdateItem", _REQUEST),
    ("dynamodb", "deleteItem"): _Integration(TABLE, "TableName", "dynamodb:DeleteItem", _REQUEST),
}


def substitutions(value: Any) -> set[str]:
    """Every ``${Name}`` used anywhere in a definition."""
    if isinstance(value, str):
        return set(_SUBSTITUTION.findall(value))
    if isinstance(value, dict):
        return set().union(*(substitutions(k) | substitutions(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(substitutions(item) for item in value))
    return set()


def check_query_languages(definition: dict[str, Any], flow: str) -> None:
    """Each state has only the fields of its query language, as AWS requires; else synth stops.

    A Parameters in a JSONata state, an Arguments in a JSONPath one, a JSONPath state in a
    JSONata machine: the message names each such state and what to write instead.
    """
    wrong = language_problems(definition)
    if wrong:
        raise FlowDefinitionError(
            f"{flow} breaks the rules of its query languages:\n" + "\n".join(f"  - {p}" for p in wrong)
        )


def needs(definition: dict[str, Any], flow: str) -> list[Need]:
    """The permissions the Task states need, from every state of every branch and map.

    Anything whose permissions cannot be read from the definition stops synth: a state
    with fields its query language does not have, an unsupported integration, a resource
    named at run time (``FunctionName.$`` in JSONPath, a ``{% %}`` expression in JSONata).
    """
    check_query_languages(definition, flow)
    found: list[Need] = []
    for path, state in walk_states(definition):
        where = f"{flow}: state {path}"
        for reads_or_writes in ("ItemReader", "ResultWriter"):
            if reads_or_writes in state:
                raise FlowDefinitionError(f"{where}: {reads_or_writes} (distributed map) is not supported")
        if state.get("Type") == "Task":
            found.extend(_task_needs(where, path, state, language_of(state, definition)))
    return found


def _task_needs(where: str, path: str, state: dict[str, Any], language: str) -> Iterator[Need]:
    resource = str(state.get("Resource", ""))
    match = _INTEGRATION.match(resource)
    integration = match and INTEGRATIONS.get((match["service"], match["action"]))
    if not match or not integration or (match["pattern"] or "") not in integration.patterns:
        supported = ", ".join(f"{s}:{a}" for s, a in INTEGRATIONS)
        raise FlowDefinitionError(
            f"{where}: the stack cannot grant Resource {resource!r}: a Task may call {supported}; "
            "call the service from a capability instead"
        )
    if language == JSONATA and is_expression(state.get("Arguments")):
        raise FlowDefinitionError(
            f"{where}: Arguments is one expression, which names the resource only at run time, and a "
            f"resource named at run time cannot be granted: write Arguments as an object whose "
            f"{integration.parameter} is a bound ${{Name}}"
        )
    arguments = arguments_of(state, language)
    if integration.kind is EVENT_BUS:
        entries = arguments.get("Entries")
        if not isinstance(entries, list) or not entries:
            raise FlowDefinitionError(f"{where}: Entries must be a literal list of entries")
        holders = [entry if isinstance(entry, dict) else {} for entry in entries]
    else:
        holders = [arguments]
    field = integration.parameter
    for holder in holders:
        target = holder.get(field)
        bound = _BOUND.match(str(target or ""))
        if not bound:
            shown = repr(target)
            if named_at_run_time(holder, field, language):
                written = repr(target) if language == JSONATA else f"{field}.$ = {holder[field + '.$']!r}"
                shown = f"{written}, named at run time, which cannot be granted"
            raise FlowDefinitionError(f"{where}: {field} must be a bound ${{Name}}, not {shown}")
        yield Need(path, bound[1], integration.kind, integration.action)


def unreachable(scope: dict[str, Any], prefix: str = "") -> list[str]:
    """The states no transition reaches from StartAt (AWS refuses a definition with one)."""
    states: dict[str, Any] = scope.get("States", {})
    seen: set[str] = set()
    todo = [scope.get("StartAt")]
    while todo:
        name = todo.pop()
        if not isinstance(name, str) or name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        todo += [state.get("Next"), state.get("Default")]
        todo += [rule.get("Next") for rule in [*state.get("Choices", []), *state.get("Catch", [])]]
    found = [f"{prefix}{name}" for name in states if name not in seen]
    for name in sorted(seen):
        state = states[name]
        for branch in state.get("Branches", []):
            found += unreachable(branch, f"{prefix}{name}/")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found += unreachable(processor, f"{prefix}{name}/")
    return found


def check_bindings(
    definition: dict[str, Any], bindings: Mapping[str, object], flow: str
) -> dict[str, ResourceKind]:
    """Each ``${Name}`` bound, each binding used, each bound resource of a known kind."""
    used = substitutions(definition)
    unbound = sorted(used - bindings.keys())
    unused = sorted(bindings.keys() - used)
    if unbound:
        raise FlowDefinitionError(f"{flow}: ${{Name}} with no binding: {unbound}")
    if unused:
        raise FlowDefinitionError(f"{flow}: bindings the definition never uses: {unused}")
    kinds: dict[str, ResourceKind] = {}
    for key, resource in bindings.items():
        kind = kind_of(resource)
        if kind is None:
            raise FlowDefinitionError(
                f"{flow}: ${{{key}}} must be bound to a function, event bus, queue, table "
                f"or bucket, not a {type(resource).__name__}"
            )
        kinds[key] = kind
    return kinds


class Flow(Construct):
    """A Step Functions state machine of a definition, versioned.

    ``bindings`` maps each ``${Name}`` of the definition to a resource of the stack:
    a function (its ARN replaces the name), an event bus (its name), a queue (its
    URL), a table (its name) or a bucket (its name).

    ``version_arn`` is the version this deploy published, ``alias_arn`` the ``live``
    alias, and ``live`` the alias as an ``IStateMachine`` (for targets that start it;
    make them depend on ``alias``); :meth:`grant_start_live` lets a principal start
    executions through the alias only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        definition: dict[str, Any],
        bindings: Mapping[str, object],
        state_machine_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD,
        source: Path | str = "",
        capabilities: Mapping[str, CapabilityInfo] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.definition = definition
        where = f"{name} ({source})" if source else name
        kinds = check_bindings(definition, bindings, where)
        check_query_languages(definition, where)
        stranded = unreachable(definition)
        if stranded:
            raise FlowDefinitionError(
                f"{where}: no transition reaches {', '.join(stranded)}, and AWS refuses a definition "
                "with such a state: remove it, or point a Next, a Choice or a Catch at it"
            )
        broken = check_definition(definition, name, capabilities)
        if broken:
            raise FlowDefinitionError(
                f"{where} breaks its functions' contracts:\n" + "\n".join(f"  - {p}" for p in broken)
            )
        required = needs(definition, where)
        for need in required:
            if kinds[need.binding] is not need.kind:
                raise FlowDefinitionError(
                    f"{name}: state {need.state} calls ${{{need.binding}}} as a "
                    f"{need.kind.name}, but it is bound to a {kinds[need.binding].name}"
                )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-{name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The definition is inlined (DefinitionString), not uploaded as an S3 asset:
        # what was checked above is exactly what deploys, `cdk diff` shows flow edits,
        # and the local cloud reads it from the template.
        self.state_machine = sfn.StateMachine(
            self,
            "Default",
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition, indent=2)),
            definition_substitutions={
                key: getattr(resource, kinds[key].attribute) for key, resource in bindings.items()
            },
            state_machine_type=state_machine_type,
            tracing_enabled=True,
            # every event, without the states' inputs and outputs: documents (and the PII the
            # guard redacts) stay out of CloudWatch Logs; a Standard run keeps them in its
            # execution history, readable through the API with IAM, for 90 days
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )
        for need in required:
            _GRANTS[need.kind](bindings[need.binding], self.state_machine, need.action)
        acknowledge(
            self.state_machine.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions logging (logs:CreateLogDelivery, logs:DescribeLogGroups...) and "
            "X-Ray tracing (xray:PutTraceSegments...) support no resource-level permissions.",
        )
        self._publish()

    def _publish(self) -> None:
        """A version per definition change, and the ``live`` alias routing all of it there.

        The version's StateMachineRevisionId is the machine's revision: a deploy that
        changes the definition (or any setting of the machine) changes it, and
        CloudFormation replaces the version resource, which publishes a new version.
        UpdateReplacePolicy Retain keeps the replaced version published, so the alias
        can be pointed back at it (``aws stepfunctions update-state-machine-alias``).
        DeletionPolicy Retain goes with it (cfn-lint W3011) and keeps nothing: deleting
        the state machine with the stack deletes all its versions.
        """
        machine = self.state_machine.node.default_child
        assert isinstance(machine, sfn.CfnStateMachine)
        self.version = sfn.CfnStateMachineVersion(
            self,
            "Version",
            state_machine_arn=self.state_machine.state_machine_arn,
            state_machine_revision_id=machine.attr_state_machine_revision_id,
            description=f"{self.name}, published by the stack's deploy",
        )
        self.version.apply_removal_policy(RemovalPolicy.RETAIN)
        self.alias = sfn.CfnStateMachineAlias(
            self,
            "Alias",
            name=LIVE_ALIAS,
            description=f"{self.name}: what callers start; point it back at a version to roll back",
            routing_configuration=[
                sfn.CfnStateMachineAlias.RoutingConfigurationVersionProperty(
                    state_machine_version_arn=self.version.ref, weight=100
                )
            ],
        )
        # Ref is a version's ARN. The alias ARN is spelled out, <machine ARN>:live (what
        # its Ref returns), because the local cloud (moto's CloudFormation) does not
        # model versions or aliases: a Ref to one resolves to nothing there, and a
        # GetAtt fails the stack. Whatever uses the ARN must depend on self.alias.
        self.version_arn: str = self.version.ref
        self.alias_arn: str = f"{self.state_machine.state_machine_arn}:{LIVE_ALIAS}"
        self.live = sfn.StateMachine.from_state_machine_arn(self, "Live", self.alias_arn)

    def grant_start_live(self, grantee: iam.IGrantable) -> iam.Grant:
        """``states:StartExecution`` through the ``live`` alias, and no other way.

        Step Functions authorizes a start on an alias against the unqualified state
        machine ARN, with the alias name in ``states:StateMachineQualifier``: a grant
        on the alias ARN alone does not let anyone start it.
        """
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["states:StartExecution"],
            resource_arns=[self.state_machine.state_machine_arn],
            conditions={"StringEquals": {"states:StateMachineQualifier": LIVE_ALIAS}},
        )


def _invoke(function: Any, machine: sfn.StateMachine, action: str) -> None:
    # Exactly the bound ARN: FunctionName is always the bare ${Name}, so the
    # "<arn>:*" (every version and alias) that grant_invoke adds is never needed.
    iam.Grant.add_to_principal(grantee=machine, actions=[action], resource_arns=[function.function_arn])


def _put_events(bus: Any, machine: sfn.StateMachine, _action: str) -> None:
    bus.grant_put_events_to(machine)  # events:PutEvents on this bus, nothing more


def _send(queue: Any, machine: sfn.StateMachine, action: str) -> None:
    # SendMessage alone: grant_send_messages adds GetQueueAttributes and GetQueueUrl,
    # which a Task never calls.
    queue.grant(machine, action)
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant_encrypt_decrypt(machine)


def _item(table: Any, machine: sfn.StateMachine, action: str) -> None:
    table.grant(machine, action)
    if table.encryption_key is not None:
        if action == "dynamodb:GetItem":
            table.encryption_key.grant_decrypt(machine)
        else:
            table.encryption_key.grant_encrypt_decrypt(machine)


_GRANTS: dict[ResourceKind, Callable[[Any, sfn.StateMachine, str], None]] = {
    FUNCTION: _invoke,
    EVENT_BUS: _put_events,
    QUEUE: _send,
    TABLE: _item,
}
