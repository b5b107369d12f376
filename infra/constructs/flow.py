"""A flow: an ASL definition bound to the stack's resources, least privilege.

A file-based definition gets no automatic permissions from CDK. ``Flow`` takes the
definition that deploys (for a flow of ``statemachines/``, the one ``infra.weave``
wove), checks that every ``${Name}`` in it has a binding and every binding is used,
that each state has only the fields of its query language (JSONPath or JSONata),
checks every Task against its function's contracts (``infra.contract_check``), and
derives the state machine's grants from its Task states and its Distributed Maps, and
from nothing else: a Task that calls a resource is the only reason to be allowed to call
it. A JSONPath Task names its resource in ``Parameters``, a JSONata one in ``Arguments``.

A Distributed Map (``ItemProcessor.ProcessorConfig.Mode: DISTRIBUTED``) starts child
executions of the flow's own state machine (:data:`CHILD_RUNS`), may read its items from
a bound bucket (``ItemReader``) and write its results to one (``ResultWriter``):
:data:`MAP_IO` says what each needs on the bucket. The bucket is the grant, so it must be
a bound ``${Name}``; the key or prefix is data, and may be computed at run time (the
grant then covers every object of the bucket).

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

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from aiflows.registry import CapabilityInfo
from infra.contract_check import (
    JSONATA,
    arguments_of,
    check_definition,
    is_distributed_map,
    is_expression,
    language_of,
    language_problems,
    named_at_run_time,
    walk_states,
)
from infra.nag import acknowledge
from infra.stage import policy_of

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
# Not a binding: the flow's own state machine, whose child executions a Distributed Map starts
MACHINE = ResourceKind("state machine", "state_machine_arn")


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
    """One permission a state needs on one bound resource, or on the flow's own machine.

    ``within`` is the part of the resource the action reaches, ``None`` for the resource
    itself: of a bucket, the object keys (``*``, ``batches/*``, one key); of the machine
    (``binding`` is ``""``), what follows its name in an execution ARN (``:*``, its
    executions; ``/<label>:*``, those of a Map Run). ``prefix`` is the ``s3:prefix`` an
    ``s3:ListBucket`` is limited to, when the definition names it.
    """

    state: str
    binding: str
    kind: ResourceKind
    action: str  # an IAM action, e.g. ``lambda:InvokeFunction``
    within: str | None = None
    prefix: str | None = None


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


# What a Distributed Map's role needs on its own state machine, by its children's ExecutionType
# (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html; as CDK's
# DistributedMap grants it): start the child executions, describe and stop them. A redriven Map
# Run redrives its failed Standard children (RedriveExecution on the Map Run's executions,
# ``{label}`` its Label, or any); it starts Express ones again, with StartExecution.
_EXECUTIONS = ":*"
CHILD_RUNS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "EXPRESS": (
        ("states:StartExecution", None),
        ("states:DescribeExecution", _EXECUTIONS),
        ("states:StopExecution", _EXECUTIONS),
    ),
    "STANDARD": (
        ("states:StartExecution", None),
        ("states:DescribeExecution", _EXECUTIONS),
        ("states:StopExecution", _EXECUTIONS),
        ("states:RedriveExecution", "/{label}:*"),
    ),
}


@dataclass(frozen=True)
class _MapIo:
    """What a Distributed Map's ItemReader or ResultWriter needs on the bucket it names."""

    bucket: tuple[str, ...]  # actions on the bucket itself (limited to the Prefix it names, if literal)
    objects: tuple[str, ...]  # actions on its objects
    keys: str  # the argument that says which objects: ``Key`` (one object) or ``Prefix`` (all under it)


# (field, s3 action of its Resource) -> what it needs: the actions the Step Functions docs list
# (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html): GetObject
# for a file, ListBucket and GetObject for a listing, and PutObject with the multipart calls
# (a result file is a multipart upload) for the results.
MAP_IO: dict[tuple[str, str], _MapIo] = {
    ("ItemReader", "getObject"): _MapIo((), ("s3:GetObject",), "Key"),
    ("ItemReader", "listObjectsV2"): _MapIo(("s3:ListBucket",), ("s3:GetObject",), "Prefix"),
    ("ResultWriter", "putObject"): _MapIo(
        (),
        ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"),
        "Prefix",
    ),
}
_S3 = re.compile(r"^arn:aws:states:::s3:(?P<action>[A-Za-z0-9]+)$")
# An S3 inventory manifest (ReaderConfig.InputType MANIFEST) names the files it lists, elsewhere in the bucket
_NAMES_OTHER_OBJECTS = frozenset({"MANIFEST"})
# What S3 asks of a bucket's KMS key for each object action: a multipart upload reads its parts back
KMS_FOR_S3: dict[str, tuple[str, ...]] = {
    "s3:GetObject": ("kms:Decrypt",),
    "s3:PutObject": ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"),
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
    """The permissions the states need, from every state of every branch and map.

    A Task needs what its integration calls; a Distributed Map needs to run child executions
    of the flow's own machine, and what its ItemReader and ResultWriter read and write.
    Anything whose permissions cannot be read from the definition stops synth: a state
    with fields its query language does not have, an unsupported integration, a resource
    named at run time (``FunctionName.$`` in JSONPath, a ``{% %}`` expression in JSONata).
    """
    check_query_languages(definition, flow)
    found: list[Need] = []
    for path, state in walk_states(definition):
        where = f"{flow}: state {path}"
        language = language_of(state, definition)
        if state.get("Type") == "Task":
            found.extend(_task_needs(where, path, state, language))
        elif state.get("Type") == "Map" or "ItemReader" in state or "ResultWriter" in state:
            found.extend(_map_needs(where, path, state, language))
    return found


def _map_needs(where: str, path: str, state: dict[str, Any], language: str) -> Iterator[Need]:
    distributed = is_distributed_map(state)
    for field in ("ItemReader", "ResultWriter"):
        if field in state and not distributed:
            raise FlowDefinitionError(
                f"{where}: {field} belongs to a Distributed Map only: set ItemProcessor.ProcessorConfig "
                'to {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"} (or STANDARD), or remove it'
            )
    if not distributed:
        return
    execution_type = state["ItemProcessor"]["ProcessorConfig"].get("ExecutionType")
    runs = CHILD_RUNS.get(str(execution_type))
    if runs is None:
        raise FlowDefinitionError(
            f"{where}: a Distributed Map's ItemProcessor.ProcessorConfig.ExecutionType must be "
            f"{' or '.join(CHILD_RUNS)}, not {execution_type!r}"
        )
    label = str(state.get("Label") or "*")
    for action, within in runs:
        yield Need(path, "", MACHINE, action, within and within.format(label=label))
    if "ItemReader" in state:
        yield from _io_needs(where, path, "ItemReader", state["ItemReader"], language)
    writer = state.get("ResultWriter")
    if isinstance(writer, dict) and set(writer) - {"WriterConfig"}:  # WriterConfig alone shapes the output
        yield from _io_needs(where, path, "ResultWriter", writer, language)


def _io_needs(where: str, path: str, field: str, config: Any, language: str) -> Iterator[Need]:
    """What an ItemReader or a ResultWriter needs on its bucket (:data:`MAP_IO`)."""
    config = config if isinstance(config, dict) else {}
    resource = str(config.get("Resource", ""))
    match = _S3.match(resource)
    io = MAP_IO.get((field, match["action"])) if match else None
    if io is None:
        supported = " or ".join(f"arn:aws:states:::s3:{action}" for f, action in MAP_IO if f == field)
        raise FlowDefinitionError(
            f"{where}: the stack cannot grant {field} Resource {resource!r}: its Resource may be "
            f"{supported}, with the Bucket a bound ${{Name}}"
        )
    written = f"{field}.{'Arguments' if language == JSONATA else 'Parameters'}"
    if language == JSONATA and is_expression(config.get("Arguments")):
        raise FlowDefinitionError(
            f"{where}: {written} is one expression, which names the bucket only at run time, and a bucket "
            "named at run time cannot be granted: write it as an object whose Bucket is a bound ${Name}"
        )
    arguments = arguments_of(config, language)
    if "Bucket" not in arguments and not named_at_run_time(arguments, "Bucket", language):
        does = "writes its results to" if field == "ResultWriter" else "reads its items from"
        raise FlowDefinitionError(
            f"{where}: {field} {does} no Bucket: name one in {written}, a bound ${{Name}} (e.g. "
            '"Bucket": "${ClaimBucket}"); its Key or Prefix may be computed'
        )
    bucket = _bound(where, arguments, "Bucket", language, f"{written}.Bucket")
    keys = arguments.get(io.keys)
    literal = isinstance(keys, str) and bool(keys) and not named_at_run_time(arguments, io.keys, language)
    reader = config.get("ReaderConfig")
    input_type = reader.get("InputType") if isinstance(reader, dict) else None
    if not literal or input_type in _NAMES_OTHER_OBJECTS:
        within, prefix = "*", None
    elif io.keys == "Key":
        within, prefix = str(keys), None
    else:
        within, prefix = f"{keys}*", str(keys)
    for action in io.bucket:
        yield Need(path, bucket, BUCKET, action, None, prefix)
    for action in io.objects:
        yield Need(path, bucket, BUCKET, action, within)


def _bound(where: str, holder: Mapping[str, Any], field: str, language: str, shown_as: str = "") -> str:
    """The ``${Name}`` that ``holder[field]`` is, or a FlowDefinitionError saying why it is not one."""
    target = holder.get(field)
    bound = _BOUND.match(str(target or ""))
    if bound:
        return bound[1]
    shown = repr(target)
    if named_at_run_time(holder, field, language):
        written = repr(target) if language == JSONATA else f"{field}.$ = {holder[field + '.$']!r}"
        shown = f"{written}, named at run time, which cannot be granted"
    raise FlowDefinitionError(f"{where}: {shown_as or field} must be a bound ${{Name}}, not {shown}")


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
    for holder in holders:
        yield Need(
            path, _bound(where, holder, integration.parameter, language), integration.kind, integration.action
        )


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
            if need.kind is not MACHINE and kinds[need.binding] is not need.kind:
                raise FlowDefinitionError(
                    f"{name}: state {need.state} calls ${{{need.binding}}} as a "
                    f"{need.kind.name}, but it is bound to a {kinds[need.binding].name}"
                )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-{name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=policy_of(self).log_removal_policy,
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
        reaches: dict[tuple[str, ResourceKind, str | None, str | None], list[str]] = {}
        for need in required:  # one statement per resource reached, with all its actions
            actions = reaches.setdefault((need.binding, need.kind, need.within, need.prefix), [])
            actions.extend([need.action] if need.action not in actions else [])
        for (binding, kind, within, prefix), actions in reaches.items():
            if kind is MACHINE:
                self._grant_child_runs(actions, within)
            else:
                _GRANTS[kind](bindings[binding], self.state_machine, _Reach(actions, within, prefix))
        acknowledge(
            self.state_machine.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions logging (logs:CreateLogDelivery, logs:DescribeLogGroups...) and "
            "X-Ray tracing (xray:PutTraceSegments...) support no resource-level permissions.",
        )
        self._publish()

    def _grant_child_runs(self, actions: list[str], within: str | None) -> None:
        """What a Distributed Map needs on this machine: in a policy of its own, as CDK's DistributedMap.

        The machine depends on its role's DefaultPolicy (CDK creates the policy first), so
        that policy cannot name the machine: the grant would be a circular dependency.
        ``DistributedMapPolicy`` is attached to the same role and nothing waits for it.
        """
        machine = self.state_machine
        policy = machine.node.try_find_child("DistributedMapPolicy")
        if not isinstance(policy, iam.Policy):
            policy = iam.Policy(machine, "DistributedMapPolicy")
            machine.role.attach_inline_policy(policy)
        if within is None:
            arn = machine.state_machine_arn
        else:
            arn = Stack.of(self).format_arn(
                service="states",
                resource="execution",
                resource_name=f"{machine.state_machine_name}{within}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        policy.add_statements(iam.PolicyStatement(actions=actions, resources=[arn]))
        if "*" in (within or ""):
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{nag_text(Stack.of(self).resolve(arn))}]",
                "A Distributed Map starts one child execution of this state machine per item (or batch), "
                "named at run time: the grant is on this machine's executions, and only there.",
            )

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


def nag_text(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag writes it in a finding id.

    ``Fn::GetAtt`` is ``<Logical.Attr>``, a ``Ref`` ``<Logical>`` (``<AWS::Region>``), a join its parts.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(nag_text(part) for part in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


@dataclass(frozen=True)
class _Reach:
    """What the states need of one bound resource: the actions, and the part of it they reach (see Need)."""

    actions: list[str]
    within: str | None = None
    prefix: str | None = None


def _invoke(function: Any, machine: sfn.StateMachine, reach: _Reach) -> None:
    # Exactly the bound ARN: FunctionName is always the bare ${Name}, so the
    # "<arn>:*" (every version and alias) that grant_invoke adds is never needed.
    iam.Grant.add_to_principal(grantee=machine, actions=reach.actions, resource_arns=[function.function_arn])


def _put_events(bus: Any, machine: sfn.StateMachine, _reach: _Reach) -> None:
    bus.grant_put_events_to(machine)  # events:PutEvents on this bus, nothing more


def _send(queue: Any, machine: sfn.StateMachine, reach: _Reach) -> None:
    # SendMessage alone: grant_send_messages adds GetQueueAttributes and GetQueueUrl,
    # which a Task never calls.
    queue.grant(machine, *reach.actions)
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant_encrypt_decrypt(machine)


def _item(table: Any, machine: sfn.StateMachine, reach: _Reach) -> None:
    # the table alone: an item's read or write never reaches an index (Table.grant adds <arn>/index/*)
    iam.Grant.add_to_principal(grantee=machine, actions=reach.actions, resource_arns=[table.table_arn])
    if table.encryption_key is not None:
        if reach.actions == ["dynamodb:GetItem"]:
            table.encryption_key.grant_decrypt(machine)
        else:
            table.encryption_key.grant_encrypt_decrypt(machine)


def _objects(bucket: Any, machine: sfn.StateMachine, reach: _Reach) -> None:
    # The bucket itself (s3:ListBucket, under the listed prefix when it is known), or exactly the
    # objects reached: not Bucket.grant_read's s3:GetObject*, s3:GetBucket* and s3:List*.
    if reach.within is None:
        conditions = {"StringLike": {"s3:prefix": [reach.prefix]}} if reach.prefix else None
        iam.Grant.add_to_principal(
            grantee=machine, actions=reach.actions, resource_arns=[bucket.bucket_arn], conditions=conditions
        )
    else:
        objects = bucket.arn_for_objects(reach.within)
        iam.Grant.add_to_principal(grantee=machine, actions=reach.actions, resource_arns=[objects])
        if "*" in reach.within:
            acknowledge(
                machine.role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::{nag_text(Stack.of(machine).resolve(objects))}]",
                "A Distributed Map reads its items from, or writes its results to, objects whose keys are "
                "data of each run: the grant is on those objects of the bound bucket, and only there.",
            )
    key = bucket.encryption_key
    kms = list(dict.fromkeys(k for action in reach.actions for k in KMS_FOR_S3.get(action, ())))
    if key is not None and kms:
        key.grant(machine, *kms)


_GRANTS: dict[ResourceKind, Callable[[Any, sfn.StateMachine, _Reach], None]] = {
    FUNCTION: _invoke,
    EVENT_BUS: _put_events,
    QUEUE: _send,
    TABLE: _item,
    BUCKET: _objects,
}
