"""The Step Functions API as AWS answers it, where moto's executing backend differs.

- ``StartExecution`` without a name names the execution with a UUID (moto: ``None``,
  so a second unnamed start failed with ExecutionAlreadyExists). AWS: "If you don't
  provide a name for the execution, Step Functions automatically generates a
  universally unique identifier (UUID) as the execution name."
- ``StartExecution`` on a version or an alias ARN runs that version's definition;
  an alias picks its version by the routing weights (moto refuses qualified ARNs).
  ``DescribeExecution`` then names them as AWS associates them: "If your qualified ARN
  refers to an alias, Step Functions associates the execution with that alias and the
  version to which the alias points"; a version ARN, with the version alone; an
  unqualified ARN, with neither (developer guide, executions with a version or alias).
  ``ListExecutions`` on a version or an alias ARN lists the executions associated with it
  (:mod:`.redrive`, where ListExecutions is patched).
- An Express execution's ARN is ``…:express:<machine>:<name>:<uuid>`` (moto gives it
  the Standard ``…:execution:<machine>:<name>`` shape), so ``$$.Execution.Id`` parses
  as on AWS. The local cloud still describes Express executions, which AWS does not
  (their history is in CloudWatch Logs there): its traces and reports read them.
- ``DescribeExecution``'s ``output`` is the output as JSON text, a string output
  quoted (moto passed a string output through bare, and a timestamp in an output
  failed the call with an HTTP 500).
- ``$$.Execution.StartTime`` is an ISO 8601 string (moto: a datetime, which broke
  any output that held it).
- A definition Step Functions refuses is refused with ``InvalidDefinition`` (moto
  answered with an empty error code), as is one with a state name over 80
  characters or an ``Assign`` to the reserved variable ``states`` or to a name a
  variable cannot have (moto accepted both).
- ``StartExecution`` and ``StartSyncExecution`` refuse a name over 80 characters or with a
  character a name may not have (the quotas page lists them), an input over 262,144 bytes
  (moto accepted them), and an input that is not JSON with ``InvalidExecutionInput``, "The
  provided JSON input data is invalid" (moto answered an error with no code).
- ``StopExecution`` answers its ``stopDate``, and the run ends ABORTED with the ``error``
  and ``cause`` it was given, at once, even while a task waits for its token (moto answered
  ``{}`` while the run was still stopping, dropped both, and a waiting task kept the run
  RUNNING until its timeout).
- ``StartSyncExecution`` runs an Express execution and answers with its result
  (moto does not implement it): :meth:`LocalCloud.start_sync_execution`.
- ``ListStateMachineVersions`` lists a machine's versions, "in descending order of the
  version creation time", paged (moto answered an HTML 500).
- ``ValidateStateMachineDefinition`` answers ``result`` OK or FAIL with its diagnostics,
  by the checks ``CreateStateMachine`` makes (moto answered an HTML 500): a definition
  that is not JSON is ``INVALID_JSON_DESCRIPTION``, one the checks refuse
  ``SCHEMA_VALIDATION_FAILED``. AWS: "The result value will be OK when your workflow
  definition can be successfully created or updated"; automated processes "should only
  rely on the value of the result field".
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

_start_lock = threading.Lock()


def iso_8601(moment: datetime) -> str:
    """A timestamp as Step Functions writes one: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


STATE_NAME_LIMIT = 80  # characters: the ASL's limit on a state's name, and the API's on an execution's
INPUT_LIMIT_BYTES = 262_144  # StartExecution's input, and any state's
_NOT_IN_A_NAME = re.compile(r"[\s?*<>{}\[\]\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")


def page_of(response: Any, key: str, listed: list[Any]) -> dict[str, Any]:
    """One page of a listing, as the List* actions page: ``maxResults`` (100 by default), and a
    ``nextToken`` while more follow (here the offset of the next item)."""
    size = response._get_int_param("maxResults") or 100
    offset = int(response._get_param("nextToken") or 0)
    page: dict[str, Any] = {key: listed[offset : offset + size]}
    if offset + size < len(listed):
        page["nextToken"] = str(offset + size)
    return page


def definition_problems(definition: Any) -> list[str]:
    """What Step Functions refuses in a definition that moto's parser lets through."""
    problems: list[str] = []

    def visit(scope: Any, where: str) -> None:
        for name, state in (scope.get("States") or {}).items() if isinstance(scope, dict) else ():
            if len(name) > STATE_NAME_LIMIT:
                problems.append(f"{where}state name {name[:20]!r}… is over {STATE_NAME_LIMIT} characters")
            if not isinstance(state, dict):
                continue
            assigns = [state.get("Assign")] + [c.get("Assign") for c in state.get("Catch") or []]
            assigns += [c.get("Assign") for c in state.get("Choices") or [] if isinstance(c, dict)]
            for assign in assigns:
                for key in assign or {} if isinstance(assign, dict) else {}:
                    variable = key.removesuffix(".$")  # a JSONPath Assign's path-valued key
                    if variable == "states":
                        problems.append(f"{where}{name}: Assign may not set the reserved variable 'states'")
                    elif not _VARIABLE_NAME.match(variable):
                        problems.append(f"{where}{name}: {variable!r} is not a variable name")
            for branch in state.get("Branches") or []:
                visit(branch, f"{where}{name}/")
            for processor in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(processor), dict):
                    visit(state[processor], f"{where}{name}/")

    visit(definition, "")
    return problems


def execution_problem(name: str | None, execution_input: str | None) -> tuple[str, str] | None:
    """What StartExecution refuses in a name or an input, as (error code, message); None if nothing."""
    if name is not None and (len(name) > STATE_NAME_LIMIT or _NOT_IN_A_NAME.search(name)):
        return (
            "InvalidName",
            f"Invalid Name: '{name}': at most {STATE_NAME_LIMIT} characters, none of them whitespace, "
            'wildcards, brackets, control characters or " # % \\ ^ | ~ ` $ & , ; : /',
        )
    if execution_input is not None and len(execution_input.encode("utf-8")) > INPUT_LIMIT_BYTES:
        return (
            "ValidationException",
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {INPUT_LIMIT_BYTES}",
        )
    if execution_input is not None:
        try:
            json.loads(execution_input)
        except ValueError as exc:  # InvalidExecutionInput: "The provided JSON input data is invalid."
            return "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
    return None


def associations(execution: Any) -> dict[str, str]:
    """The version and the alias an execution is associated with, as DescribeExecution and
    ListExecutions name them: ``stateMachineVersionArn``, ``stateMachineAliasArn`` (none for an
    execution started on the unqualified ARN)."""
    named = {
        "stateMachineVersionArn": getattr(execution, "state_machine_version_arn", None),
        "stateMachineAliasArn": getattr(execution, "state_machine_alias_arn", None),
    }
    return {field: arn for field, arn in named.items() if arn}


def express_arn(execution_arn: str) -> str:
    """The ARN AWS gives an Express execution, from moto's Standard-shaped one."""
    head, _, tail = execution_arn.partition(":execution:")
    return f"{head}:express:{tail}:{uuid.uuid4()}"


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    accepted = StepFunctionBackend.accepted_exec_arn_format
    patches.replace(
        StepFunctionBackend,
        "accepted_exec_arn_format",
        re.compile(accepted.pattern.replace(":execution:", ":(execution|express):")),
    )

    execution_init = Execution.__init__

    def init_execution(self: Any, *args: Any, **kwargs: Any) -> None:
        # moto's machines keep their type in ``type`` (``sm_type`` is always STANDARD)
        if getattr(kwargs.get("state_machine"), "type", None) == "EXPRESS":
            kwargs["exec_arn"] = express_arn(kwargs["exec_arn"])
        execution_init(self, *args, **kwargs)

    patches.replace(Execution, "__init__", init_execution)

    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.api import InvalidDefinition

    validate = StepFunctionsParserBackend._validate_definition

    def validate_definition(definition: str) -> None:
        try:
            problems = definition_problems(json.loads(definition))
        except json.JSONDecodeError:
            problems = []
        if problems:
            raise AWSError("; ".join(problems), "InvalidDefinition")
        try:
            validate(definition)
        except InvalidDefinition as exc:
            raise AWSError(str(exc.message), "InvalidDefinition") from None

    patches.replace(StepFunctionsParserBackend, "_validate_definition", staticmethod(validate_definition))

    def validate_state_machine_definition(self: Any) -> ActionResult:
        definition = self._get_param("definition") or ""
        diagnostics: list[dict[str, str]] = []
        try:
            json.loads(definition)
        except json.JSONDecodeError as exc:
            diagnostics.append({"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": str(exc)})
        else:
            try:
                validate_definition(definition)
            except AWSError as refused:
                diagnostics.append(
                    {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(refused.message)}
                )
        return ActionResult(
            {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}
        )

    patches.add(StepFunctionResponse, "validate_state_machine_definition", validate_state_machine_definition)

    def list_state_machine_versions(self: Any) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        listed = [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions]
        return ActionResult(page_of(self, "stateMachineVersions", listed))

    patches.add(StepFunctionResponse, "list_state_machine_versions", list_state_machine_versions)

    start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        refused = execution_problem(name, execution_input)
        if refused:
            code, message = refused
            raise AWSError(message, code)
        name = name or str(uuid.uuid4())
        parts = state_machine_arn.split(":")
        if len(parts) <= 7:
            return start(self, state_machine_arn, name, execution_input, trace_header)
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
                execution = start(self, base_arn, name, execution_input, trace_header)
            finally:
                base.definition = current
        execution.state_machine_version_arn = version_arn
        execution.state_machine_alias_arn = alias_arn
        return execution

    patches.replace(StepFunctionsParserBackend, "start_execution", start_execution)

    def start_sync_execution(self: Any) -> ActionResult:
        return ActionResult(
            cloud.start_sync_execution(
                self._get_param("stateMachineArn"),
                self._get_param("name"),
                self._get_param("input", if_none="{}"),
            )
        )

    describe = StepFunctionResponse.describe_execution

    def describe_execution(self: Any) -> ActionResult:
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        output = execution.output
        execution.output = None  # moto's own would pass a string through bare, and fail on a timestamp
        try:
            answer = describe(self)
        finally:
            execution.output = output
        response = answer.result
        if isinstance(response, dict) and "outputDetails" in response:
            response["output"] = to_json_str(output)
        if isinstance(response, dict):
            response.update(associations(execution))
        return answer

    patches.replace(StepFunctionResponse, "describe_execution", describe_execution)

    def stop_execution(self: Any) -> ActionResult:
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        error, cause = self._get_param("error"), self._get_param("cause")
        stopped = datetime.now(UTC)
        if execution.status == "RUNNING":
            execution.stop(stop_date=stopped, error=error, cause=cause)
            execution.error, execution.cause = error, cause  # what DescribeExecution names, as on AWS
            # a task waiting for its token (or an activity's worker) is abandoned at once, not when
            # its timeout passes: moto keeps each execution's waiting tasks in its callback pool
            worker = getattr(execution, "exec_worker", None)
            for waiting in list(getattr(worker and worker.env.callback_pool_manager, "_pool", {}).values()):
                waiting.interrupt_all()
        else:
            stopped = execution.stop_date or stopped
        return ActionResult({"stopDate": stopped})

    patches.replace(StepFunctionResponse, "stop_execution", stop_execution)

    environment_of = ExecutionWorker._get_evaluation_environment

    def evaluation_environment(self: Any) -> Any:
        env = environment_of(self)
        started = env.states.context_object.context_object_data["Execution"]
        if isinstance(started.get("StartTime"), datetime):
            started["StartTime"] = iso_8601(started["StartTime"])
        return env

    patches.replace(ExecutionWorker, "_get_evaluation_environment", evaluation_environment)

    patches.add(StepFunctionResponse, "start_sync_execution", start_sync_execution)
