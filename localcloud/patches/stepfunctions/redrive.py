"""RedriveExecution: an execution that did not succeed continues from where it stopped, as on AWS.

moto has no RedriveExecution. Here every Standard execution keeps what each state, each
Parallel branch and each inline Map iteration that succeeded left (its output, where it
went next, the variables it set); a redrive starts a new attempt of the same execution
that replays those silently and runs the rest. AWS's rules, and where they are written:

- API reference, RedriveExecution: "Restarts unsuccessful executions of Standard workflows
  that didn't complete successfully in the last 14 days. These include failed, aborted, or
  timed out executions. [...] it continues the failed execution from the unsuccessful step
  and uses the same input. Step Functions preserves the results and execution history of
  the successful steps, and doesn't rerun these steps [...] Redriven executions use the same
  state machine definition and execution ARN". An ABORTED, FAILED or TIMED_OUT execution is
  redriven; a RUNNING or SUCCEEDED one answers ``ExecutionNotRedrivable``; so does an Express
  one ("This API action is not supported by EXPRESS state machines").
- Same page: "For workflows that include an Inline Map or Parallel state, RedriveExecution
  [...] reschedules and redrives only the iterations and branches that failed or aborted."
- "Redriving Map Runs" (developer guide): a state is unsuccessful when "there's no
  <stateType>Exited event corresponding to the <stateType>Entered event". So a state whose
  error a Catch caught has exited: a run that ended in the Fail state its Catch led to is
  redriven at that Fail state, which fails again.
- RedriveExecution, its conditions: not SUCCEEDED; within the redrivable period of 14 days from the
  execution's end; under the maximum open time of one year; under 24,999 history events.
- "Redriving executions" (developer guide): "the state machine level timeout, if defined, is
  reset to 0"; a redrive keeps the version or alias the execution ran on.
- DescribeExecution: ``redriveCount`` (0 until a redrive), ``redriveDate``, ``redriveStatus``
  (REDRIVABLE, NOT_REDRIVABLE, REDRIVABLE_BY_MAP_RUN for a Map Run's child) and, when
  NOT_REDRIVABLE, ``redriveStatusReason`` with AWS's wording ("Execution is RUNNING and cannot
  be redriven", "Execution is SUCCEEDED and cannot be redriven", "Execution redrivable period
  exceeded", "Execution has exceeded the max execution time", "Execution history event limit
  exceeded"). ListExecutions gives each execution's ``redriveCount`` and ``redriveDate`` and
  takes ``redriveFilter`` (REDRIVEN, NOT_REDRIVEN).
- ListExecutions (the one place it is patched, so its filters combine): "You can also provide
  a state machine alias ARN or version ARN to list the executions associated with a specific
  alias or version" (API reference), associated as DescribeExecution says (:mod:`.api`): a
  version lists the executions started on it and through an alias that routed to it; an alias,
  those started through it. Each item names its ``stateMachineVersionArn`` and
  ``stateMachineAliasArn``.
- ExecutionRedrivenEventDetails: the redrive appends an ``ExecutionRedriven`` event, with the
  ``redriveCount``, to the execution's history, then the new attempt's events.
- RedriveExecutionInput: "The API will return idempotent responses for the last 10 client
  tokens used to successfully redrive the execution. These client tokens are valid for up to
  15 minutes after they are first used."

A stopped execution stays ABORTED though the Task it was stopped in fails afterwards (StopExecution:
the execution is aborted; moto let the Task's later error turn it FAILED), so that it is redriven
from that Task as an aborted execution.

What the local cloud does not redrive, and refuses loudly (``NOT_REDRIVABLE``, with the reason):
an execution whose unsuccessful states include a Distributed Map (AWS redrives its Map Run,
rerunning only the unsuccessful child executions; here the Map Run would start again whole), and
a Map Run's child execution (on AWS its Map Run redrives it).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.patches.stepfunctions.api import associations, page_of

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

REDRIVABLE_PERIOD = timedelta(days=14)  # from the execution's end
MAX_OPEN_TIME = timedelta(days=365)  # from its start
HISTORY_EVENT_LIMIT = 24_999  # the ExecutionRedriven event and one more must fit under 25,000
CLIENT_TOKENS_KEPT = 10
CLIENT_TOKEN_SECONDS = 15 * 60
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")

RUNNING = "Execution is RUNNING and cannot be redriven"
SUCCEEDED = "Execution is SUCCEEDED and cannot be redriven"
PERIOD_EXCEEDED = "Execution redrivable period exceeded"
MAX_TIME_EXCEEDED = "Execution has exceeded the max execution time"
HISTORY_EXCEEDED = "Execution history event limit exceeded"
EXPRESS = "RedriveExecution is not supported by EXPRESS state machines"
MAP_RUN_CHILD = (
    "Execution is a child workflow execution of a Map Run: redrive its parent execution, whose "
    "redrive redrives the Map Run (the local cloud does not redrive Map Runs: docs/local-cloud.md)"
)

Key = tuple[Any, ...]  # where a state, branch or iteration ran: (state, visit), ("branch", i), ("item", i)…


@dataclass(frozen=True)
class Done:
    """What a state, a Parallel branch or a Map iteration that succeeded left behind."""

    output: Any
    next_state: str | None = None  # a state's transition; None when it ended its scope
    variables: dict[str, Any] | None = None  # a state's scope's variables after it


@dataclass
class Attempts:
    """One execution's attempts: what succeeded in them, its redrives and their client tokens."""

    done: dict[Key, Done] = field(default_factory=dict)
    replay: dict[Key, Done] = field(default_factory=dict)  # what the current attempt does not rerun
    count: int = 0  # redrives so far: the current attempt's number
    date: datetime | None = None
    tokens: deque[tuple[str, float, datetime]] = field(
        default_factory=lambda: deque(maxlen=CLIENT_TOKENS_KEPT)
    )
    unredrivable: str | None = None  # why the local cloud cannot redrive it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def replayed(self, key: Key, attempt: int) -> Done | None:
        if attempt == 0 or attempt != self.count:
            return None
        with self.lock:
            return self.replay.get(key)

    def record(self, key: Key, done: Done, attempt: int) -> None:
        if attempt == self.count:  # a thread of an attempt that ended records nothing
            with self.lock:
                self.done[key] = done

    def succeeded(self) -> None:
        """The execution succeeded: it is never redriven, what it kept is let go."""
        with self.lock:
            self.done.clear()
            self.replay.clear()


class Redrives:
    """The attempts of every Standard execution of one running cloud, by execution ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[str, Attempts] = {}

    def of(self, execution_arn: str) -> Attempts:
        with self._lock:
            attempts = self._attempts.get(execution_arn)
            if attempts is None:
                attempts = self._attempts[execution_arn] = Attempts()
            return attempts

    def of_env(self, env: Any) -> Attempts | None:
        """The attempts of the execution an interpreter environment runs; None if it is not redrivable."""
        context = env.states.context_object.context_object_data
        arn = str(context["Execution"]["Id"])
        if ":express:" in arn or "/" in str(context["StateMachine"]["Name"]):
            return None  # Express, or a Map Run's child: nothing of it is ever replayed
        return self.of(arn)


def is_express(execution: Any) -> bool:
    return ":express:" in execution.execution_arn or getattr(execution.state_machine, "type", "") == "EXPRESS"


def is_map_run_child(execution: Any) -> bool:
    """A Map Run's state machine is named ``<parent machine>/<label or id>``; no other name holds a slash."""
    return "/" in str(execution.state_machine.name)


def history_length(execution: Any) -> int:
    env = getattr(execution.exec_worker, "env", None)
    return len(env.event_manager.get_event_history()) if env is not None else 0


def redrive_status(execution: Any, attempts: Attempts, now: datetime) -> tuple[str, str | None]:
    """DescribeExecution's ``redriveStatus`` and ``redriveStatusReason`` for a Standard execution."""
    status = execution.status
    if status == "RUNNING":
        return "NOT_REDRIVABLE", RUNNING
    if status == "SUCCEEDED":
        return "NOT_REDRIVABLE", SUCCEEDED
    if is_map_run_child(execution):
        return "REDRIVABLE_BY_MAP_RUN", None
    if status not in ENDED_BADLY:
        return "NOT_REDRIVABLE", f"Execution is {status} and cannot be redriven"
    if execution.stop_date is not None and now - execution.stop_date > REDRIVABLE_PERIOD:
        return "NOT_REDRIVABLE", PERIOD_EXCEEDED
    if now - execution.start_date > MAX_OPEN_TIME:
        return "NOT_REDRIVABLE", MAX_TIME_EXCEEDED
    if history_length(execution) >= HISTORY_EVENT_LIMIT:
        return "NOT_REDRIVABLE", HISTORY_EXCEEDED
    if attempts.unredrivable:
        return "NOT_REDRIVABLE", attempts.unredrivable
    return "REDRIVABLE", None


# --- the interpreter: scopes, records and replays ---------------------------------------------


def _scope(env: Any) -> Key:
    return tuple(env.__dict__.get("_redrive_scope", ()))


def _attempt(env: Any) -> int:
    return int(env.__dict__.get("_redrive_attempt", 0))


def _replay_state(env: Any, done: Done) -> None:
    """Leave the state as it was left when it succeeded: its output, its variables, its transition."""
    env.states.reset(input_value=copy.deepcopy(done.output))
    store = env.variable_store
    store._inner_scope.clear()
    store._inner_scope.update(copy.deepcopy(done.variables or {}))
    store._variable_declarations_cache = None
    if done.next_state is None:
        env.set_ended()
    else:
        env.next_state_name = done.next_state


def _record_and_replay(patches: Patches, redrives: Redrives) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker import (
        IterationWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import BranchWorker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import BranchesDecl
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramRunning

    from localcloud.patches.stepfunctions.distributed_map import envelope_of

    inner_frame_of = Environment.as_inner_frame_of

    def as_inner_frame_of(cls: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        frame = inner_frame_of(env, *args, **kwargs)
        # A frame opened while a state runs belongs to that state; the frame's own states count afresh.
        frame._redrive_scope = env.__dict__.get("_redrive_current") or _scope(env)
        frame._redrive_attempt = _attempt(env)
        return frame

    patches.replace(Environment, "as_inner_frame_of", classmethod(as_inner_frame_of))

    state_eval_body = CommonStateField._eval_body

    def eval_state(self: Any, env: Any) -> None:
        attempts = redrives.of_env(env)
        if attempts is None:
            state_eval_body(self, env)
            return
        visits: dict[str, int] = env.__dict__.setdefault("_redrive_visits", {})
        visit = visits.get(self.name, 0)
        visits[self.name] = visit + 1
        key = (*_scope(env), (self.name, visit))
        attempt = _attempt(env)
        done = attempts.replayed(key, attempt)
        if done is not None:
            _replay_state(env, done)  # it succeeded in an earlier attempt: not run again
            return
        outer = env.__dict__.get("_redrive_current")
        env._redrive_current = key
        succeeded = False
        try:
            state_eval_body(self, env)
            succeeded = isinstance(env._program_state, ProgramRunning | ProgramEnded)
        finally:
            env._redrive_current = outer
            if succeeded:
                ended = isinstance(env._program_state, ProgramEnded)
                if ended and not env.is_frame() and attempt == attempts.count:
                    attempts.succeeded()  # the execution's last state: it succeeded
                else:
                    attempts.record(
                        key,
                        Done(
                            output=copy.deepcopy(env.states.get_input()),
                            next_state=None if ended else env.next_state_name,
                            variables=copy.deepcopy(dict(env.variable_store._inner_scope)),
                        ),
                        attempt,
                    )
            elif envelope_of(self) is not None and attempt == attempts.count:
                attempts.unredrivable = (
                    f"the Distributed Map state '{self.name}' did not succeed: AWS would redrive its Map "
                    "Run (its unsuccessful child executions only), which the local cloud does not "
                    "(docs/local-cloud.md)"
                )

    patches.replace(CommonStateField, "_eval_body", eval_state)

    branches_eval = BranchesDecl._eval_body

    def eval_branches(self: Any, env: Any) -> None:
        for index, program in enumerate(self.programs):
            program._redrive_branch = index
        branches_eval(self, env)

    patches.replace(BranchesDecl, "_eval_body", eval_branches)

    branch_init = BranchWorker.__init__

    def init_branch(self: Any, branch_worker_comm: Any, program: Any, env: Any) -> None:
        branch_init(self, branch_worker_comm=branch_worker_comm, program=program, env=env)
        env._redrive_scope = (*_scope(env), ("branch", getattr(program, "_redrive_branch", 0)))

    patches.replace(BranchWorker, "__init__", init_branch)

    def branch_routine(self: Any) -> None:
        # moto's BranchWorker._thread_routine, with the branch's record taken before the pool hears of it
        env = self.env
        attempts = redrives.of_env(env)
        key, attempt = _scope(env), _attempt(env)
        done = attempts.replayed(key, attempt) if attempts is not None else None
        if done is not None:
            env.states.reset(input_value=copy.deepcopy(done.output))
            env.set_ended()
        else:
            self._program.eval(env)
            if attempts is not None and isinstance(env._program_state, ProgramEnded):
                attempts.record(key, Done(output=copy.deepcopy(env.states.get_input())), attempt)
        self._branch_worker_comm.on_terminated(env=env)

    patches.replace(BranchWorker, "_thread_routine", branch_routine)

    eval_job = IterationWorker._eval_job

    def eval_iteration(self: Any, env: Any, job: Any) -> None:
        env._redrive_scope = (*_scope(env), ("item", job.job_index))
        attempts = redrives.of_env(env)
        key, attempt = _scope(env), _attempt(env)
        done = attempts.replayed(key, attempt) if attempts is not None else None
        if done is not None:
            job.job_output = copy.deepcopy(done.output)
            return
        eval_job(self, env, job)
        if attempts is not None and not isinstance(job.job_output, Exception):
            attempts.record(key, Done(output=copy.deepcopy(job.job_output)), attempt)

    patches.replace(IterationWorker, "_eval_job", eval_iteration)


def _stopped_stays_aborted(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    set_error = Environment.set_error

    def set_error_unless_stopped(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # the Task it was stopped in ended in an error afterwards: the execution was aborted
        set_error(self, error)

    patches.replace(Environment, "set_error", set_error_unless_stopped)


# --- the API ---------------------------------------------------------------------------------


def _api(patches: Patches, redrives: Redrives) -> None:
    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.api import ExecutionRedrivenEventDetails, ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.asl.eval.evaluation_details import EvaluationDetails
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.responses import StepFunctionResponse

    class RedrivenWorker(ExecutionWorker):
        """The worker of a redriven attempt: its environment is made (and its history continued) before."""

        def _execution_logic(self) -> None:
            program = self._get_evaluation_entrypoint()
            program.eval(self.env)
            self._execution_communication.terminated()

    def refuse(reason: str, arn: str) -> AWSError:
        return AWSError(f"{reason}: '{arn}'", "ExecutionNotRedrivable")

    def redrive(execution: Any, client_token: str | None) -> datetime:
        arn = execution.execution_arn
        if is_express(execution):
            raise refuse(EXPRESS, arn)
        attempts = redrives.of(arn)
        now = datetime.now(UTC)
        with attempts.lock:
            for token, used, date in attempts.tokens:
                if client_token and token == client_token and time.monotonic() - used < CLIENT_TOKEN_SECONDS:
                    return date  # the same request again: the same answer, and no second redrive
        status, reason = redrive_status(execution, attempts, now)
        if is_map_run_child(execution):
            raise refuse(reason or MAP_RUN_CHILD, arn)
        if status != "REDRIVABLE":
            raise refuse(reason or status, arn)
        previous = execution.exec_worker.env
        history = previous.event_manager
        with attempts.lock:
            attempts.count += 1
            attempts.date = now
            attempts.replay = dict(attempts.done)
            if client_token:
                attempts.tokens.append((client_token, time.monotonic(), now))
            count = attempts.count
        worker = RedrivenWorker(
            evaluation_details=EvaluationDetails(
                aws_execution_details=execution._get_start_aws_execution_details(),
                execution_details=execution.get_start_execution_details(),
                state_machine_details=execution.get_start_state_machine_details(),
            ),
            exec_comm=execution._get_start_execution_worker_comm(),
            cloud_watch_logging_session=execution._cloud_watch_logging_session,
            activity_store=execution._activity_store,
        )
        env = worker._get_evaluation_environment()
        env.event_manager = history  # the history goes on: the same event ids, the earlier events kept
        events = history.get_event_history()
        env.event_history_context = EventHistoryContext(previous_event_id=events[-1]["id"] if events else 0)
        env._redrive_attempt = count
        history.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(
                executionRedrivenEventDetails=ExecutionRedrivenEventDetails(redriveCount=count)
            ),
        )
        worker.env = env
        execution.exec_worker = worker
        execution.exec_status = ExecutionStatus.RUNNING
        execution.stop_date = execution.output = execution.error = execution.cause = None
        worker.start()
        return now

    def redrive_execution(self: Any) -> ActionResult:
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        return ActionResult({"redriveDate": redrive(execution, self._get_param("clientToken"))})

    patches.add(StepFunctionResponse, "redrive_execution", redrive_execution)

    def redrive_fields(execution: Any) -> dict[str, Any]:
        """What DescribeExecution and ListExecutions say of an execution's redrives (none for Express)."""
        if is_express(execution):
            return {}
        attempts = redrives.of(execution.execution_arn)
        fields: dict[str, Any] = {"redriveCount": attempts.count}
        if attempts.date is not None:
            fields["redriveDate"] = attempts.date
        return fields

    describe = StepFunctionResponse.describe_execution

    def describe_execution(self: Any) -> ActionResult:
        answer = describe(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        fields = redrive_fields(execution)
        if fields and isinstance(answer.result, dict):
            status, reason = redrive_status(
                execution, redrives.of(execution.execution_arn), datetime.now(UTC)
            )
            fields["redriveStatus"] = status
            if reason is not None:
                fields["redriveStatusReason"] = reason
            answer.result.update(fields)
        return answer

    patches.replace(StepFunctionResponse, "describe_execution", describe_execution)

    listing = StepFunctionResponse.list_executions
    filters = ("REDRIVEN", "NOT_REDRIVEN")

    def list_executions(self: Any) -> ActionResult:
        wanted = self._get_param("redriveFilter")
        if wanted is not None and wanted not in filters:
            raise AWSError(
                "1 validation error detected: Value at 'redriveFilter' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(filters)}]",
                "ValidationException",
            )
        map_run = self._get_param("mapRunArn")
        qualified = len((self._get_param("stateMachineArn") or "").split(":")) > 7
        if map_run or (wanted is None and not qualified):
            answer = listing(self)  # a Map Run's children are never redriven: the filter keeps all or none
            page = answer.result
            backend = self.stepfunction_backend
            kept = []
            for item in page.get("executions", []):
                execution = backend.describe_execution(item["executionArn"])
                fields = redrive_fields(execution)
                item.update(fields)
                if not map_run:
                    item.update(associations(execution))
                if wanted is None or (fields.get("redriveCount", 0) > 0) == (wanted == "REDRIVEN"):
                    kept.append(item)
            page["executions"] = kept
            return answer
        return ActionResult(filtered_page(self, None if wanted is None else wanted == "REDRIVEN"))

    def filtered_page(self: Any, redriven: bool | None) -> dict[str, Any]:
        """ListExecutions filtered here, then paged: by its redriveFilter, or on a version or an
        alias ARN to the executions associated with it (moto lists a version's as none, and
        answers StateMachineDoesNotExist for an alias)."""
        arn = self._get_param("stateMachineArn")
        backend = self.stepfunction_backend
        qualifier = arn.split(":")[7:]
        if qualifier and not qualifier[0].isdigit():
            backend.describe_state_machine_alias(arn)  # ResourceNotFound for an alias that is not there
        else:
            backend.describe_state_machine(arn)  # StateMachineDoesNotExist for a machine or version
        machine = backend.describe_state_machine(":".join(arn.split(":")[:7]))
        status = self._get_param("statusFilter")
        listed = []
        for execution in sorted(machine.executions, key=lambda e: e.start_date, reverse=True):
            fields = redrive_fields(execution)
            associated = associations(execution)
            if status and execution.status != status:
                continue
            if redriven is not None and (fields.get("redriveCount", 0) > 0) != redriven:
                continue
            if qualifier and arn not in associated.values():
                continue  # a version lists what ran on it, through an alias too; an alias, what it started
            item = {
                "executionArn": execution.execution_arn,
                "name": execution.name,
                "startDate": execution.start_date,
                "stateMachineArn": machine.arn,
                "status": execution.status,
                **fields,
                **associated,
            }
            if execution.status != "RUNNING" and execution.stop_date is not None:
                item["stopDate"] = execution.stop_date
            listed.append(item)
        return page_of(self, "executions", listed)

    patches.replace(StepFunctionResponse, "list_executions", list_executions)


def install(patches: Patches, cloud: LocalCloud) -> None:
    redrives = Redrives()  # this cloud's executions' attempts: the patches below share them
    _record_and_replay(patches, redrives)
    _stopped_stays_aborted(patches)
    _api(patches, redrives)
