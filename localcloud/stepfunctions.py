"""Step Functions in the local cloud: the template's state machines, versions and aliases,
registered where moto executes them; and executions started on a version or an alias.

moto's CloudFormation creates state machines in its non-executing backend and
ignores ``DefinitionSubstitutions``; its interpreter cannot start an execution on a
version or an alias ARN. Here every ``AWS::StepFunctions::StateMachine`` is created
(or updated, on a redeploy) in the executing backend with its substitutions
resolved; each ``StateMachineVersion`` publishes a version when the definition
changed; each ``StateMachineAlias`` is created or re-pointed. An execution started
on an alias picks a version by the routing weights, as Step Functions does, and
runs that version's definition.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

MACHINE = "AWS::StepFunctions::StateMachine"
VERSION = "AWS::StepFunctions::StateMachineVersion"
ALIAS = "AWS::StepFunctions::StateMachineAlias"

HANDLED = (VERSION, ALIAS)  # modeled here, though moto's CloudFormation skips them
_start_lock = threading.Lock()


@dataclass
class Registered:
    machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    versions: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


def _lower_keys(value: Any) -> Any:
    """CloudFormation spells state machine settings in PascalCase, the API in camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def referenced(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points to."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def register(template: dict[str, Any], cfn_stack: Any, executing: Any) -> Registered:
    from moto.cloudformation.parsing import clean_json

    resources: dict[str, Any] = template.get("Resources", {})
    done = Registered()
    by_arn = {m.arn: m for m in executing.state_machines}

    for logical_id, resource in resources.items():
        if resource["Type"] != MACHINE:
            continue
        properties = clean_json(copy.deepcopy(resource["Properties"]), cfn_stack.resource_map)
        definition = properties.get("DefinitionString")
        if definition is None:
            definition = json.dumps(properties["Definition"])
        for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        planned = cfn_stack.resource_map[logical_id]
        existing = by_arn.get(planned.arn)
        if existing is not None:
            if existing.definition != definition:
                executing.update_state_machine(existing.arn, definition=definition)
            done.machines[logical_id] = existing.arn
            continue
        created = executing.create_state_machine(
            name=planned.name,
            definition=definition,
            roleArn=properties.get("RoleArn", ""),
            loggingConfiguration=_lower_keys(properties.get("LoggingConfiguration")),
            tracingConfiguration=_lower_keys(properties.get("TracingConfiguration")),
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )
        done.machines[logical_id] = created.arn

    for logical_id, resource in resources.items():
        if resource["Type"] != VERSION:
            continue
        properties = resource["Properties"]
        source = referenced(properties["StateMachineArn"])
        machine = executing.describe_state_machine(done.machines[source]) if source else None
        if machine is None:
            continue
        latest = machine.latest_version
        if latest is None or latest.definition != machine.definition:
            machine.publish(properties.get("Description"))
        done.versions[logical_id] = machine.latest_version.arn

    for logical_id, resource in resources.items():
        if resource["Type"] != ALIAS:
            continue
        properties = resource["Properties"]
        routing = []
        for route in properties.get("RoutingConfiguration", []):
            target = referenced(route["StateMachineVersionArn"])
            if target not in done.versions:
                raise ValueError(
                    f"{logical_id}: routes to {route['StateMachineVersionArn']}, not a version here"
                )
            routing.append({"stateMachineVersionArn": done.versions[target], "weight": int(route["Weight"])})
        machine_arn = str(routing[0]["stateMachineVersionArn"]).rsplit(":", 1)[0]
        alias_arn = f"{machine_arn}:{properties['Name']}"
        machine = executing.describe_state_machine(machine_arn)
        if properties["Name"] in machine.aliases:
            executing.update_state_machine_alias(alias_arn, properties.get("Description"), routing)
        else:
            executing.create_state_machine_alias(properties["Name"], routing, properties.get("Description"))
        done.aliases[logical_id] = alias_arn
    return done


def _error_names() -> None:
    """Two error names moto's interpreter gets wrong, as Step Functions names them.

    - A heartbeat that times out is ``States.HeartbeatTimeout`` (moto says
      ``States.Timeout``, so a Retry on the heartbeat never matches).
    - A Parallel branch or a Map iteration that fails with a ``States.*`` error
      passes that error on (moto builds a custom error name from it, which refuses
      the ``States.`` prefix, and the whole execution fails with States.Runtime).
    - A Fail state's ``Error`` may be any name, ``States.*`` included: AWS's Fail
      state documents no reserved prefix for it (moto refuses the prefix there too,
      and the execution fails with States.Runtime instead of the state's error).
    """
    from moto.stepfunctions.parser.api import HistoryEventType, TaskTimedOutEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    states_names = {t.to_name(): t for t in StatesErrorNameType}

    def error_name(error_name: str | None = None) -> Any:
        if error_name in states_names:
            return StatesErrorName(typ=states_names[error_name])
        if error_name and error_name.startswith(custom_error_name.ILLEGAL_CUSTOM_ERROR_PREFIX):
            return ErrorName(error_name=error_name)  # a States.* name moto's enumeration lacks
        return custom_error_name.CustomErrorName(error_name=error_name)

    branches_decl.CustomErrorName = error_name
    iteration_worker.CustomErrorName = error_name
    state_fail.CustomErrorName = error_name

    from_error = StateTask._from_error

    def task_from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, HeartbeatTimeoutError):
            heartbeat = StatesErrorNameType.StatesHeartbeatTimeout
            return FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=heartbeat),
                event_type=HistoryEventType.TaskTimedOut,
                event_details=EventDetails(
                    taskTimedOutEventDetails=TaskTimedOutEventDetails(error=heartbeat.to_name())
                ),
            )
        return from_error(self, env, ex)

    StateTask._from_error = task_from_error


def _task_token_per_attempt() -> None:
    """Each attempt of a ``.waitForTaskToken`` Task gets a task token of its own, as on AWS.

    moto makes the token once per state and reuses it on every Retry attempt, so the
    work of a retried attempt (a new message for a worker) would carry the token of
    the attempt that failed, and any idempotency keyed on it would see old work.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        resource,
        state_task_service_callback,
    )

    ResourceCondition = resource.ResourceCondition
    StateTaskServiceCallback = state_task_service_callback.StateTaskServiceCallback

    execute = StateTaskServiceCallback._eval_execution

    def eval_execution(self: Any, env: Any) -> None:
        context = env.states.context_object
        retrying = context.context_object_data.get("State", {}).get("RetryCount", 0) > 0
        if (
            retrying
            and self._is_integration_pattern()
            and ResourceCondition.WaitForTaskToken in self._supported_integration_patterns
        ):
            env.callback_pool_manager.add(context.update_task_token())
        execute(self, env)

    StateTaskServiceCallback._eval_execution = eval_execution


def install() -> None:
    """Let the executing backend start executions on a version or an alias ARN, name the unnamed ones
    as AWS does, and name errors right."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if getattr(StepFunctionsParserBackend, "_localcloud_qualified", False):
        return
    _error_names()
    _task_token_per_attempt()
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        # AWS: "If you don't provide a name for the execution, Step Functions automatically
        # generates a universally unique identifier (UUID) as the execution name" (moto: "None").
        name = name or str(uuid.uuid4())
        parts = state_machine_arn.split(":")
        if len(parts) <= 7:
            return original(self, state_machine_arn, name, execution_input, trace_header)
        alias_arn = None
        version_arn = state_machine_arn
        if not parts[7].isdigit():
            alias_arn = state_machine_arn
            routes = self.describe_state_machine_alias(alias_arn).routing_configuration
            weights = [int(r.get("weight", r.get("Weight", 0))) for r in routes]
            chosen = random.choices(routes, weights=weights)[0]  # noqa: S311 - traffic shifting, not security
            version_arn = chosen.get("stateMachineVersionArn") or chosen["StateMachineVersionArn"]
        version = self.describe_state_machine(version_arn)
        base_arn = ":".join(version_arn.split(":")[:7])
        base = self.describe_state_machine(base_arn)
        with _start_lock:  # run the version's definition: the execution snapshots the machine
            current = base.definition
            base.definition = version.definition
            try:
                execution = original(self, base_arn, name, execution_input, trace_header)
            finally:
                base.definition = current
        execution.state_machine_version_arn = version_arn
        execution.state_machine_alias_arn = alias_arn
        return execution

    StepFunctionsParserBackend.start_execution = start_execution
    StepFunctionsParserBackend._localcloud_qualified = True
