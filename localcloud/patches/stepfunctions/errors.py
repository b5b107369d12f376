"""Error names and matching as AWS gives them, where moto's interpreter differs.

- A heartbeat that times out is ``States.HeartbeatTimeout``, for a callback Task as
  for an activity (moto: ``States.Timeout``, so a Retry on the heartbeat never matched).
- A Parallel branch or a Map iteration that fails with a ``States.*`` error passes
  that error on (moto built a custom error name from it, which refuses the
  ``States.`` prefix, and the whole execution failed with States.Runtime).
- A Fail state's ``Error`` may be any name, ``States.*`` included: AWS's Fail state
  documents no reserved prefix (moto refused it, failing with States.Runtime).
- A Choice state whose rules all fail and that has no Default fails with
  ``States.NoChoiceMatched`` (moto: States.Runtime).
- A ResultPath that cannot be applied to the state's input (``$.x`` on a string)
  fails with ``States.ResultPathMatchFailure`` (moto: States.Runtime, a TypeError).
- A Task, Map or Parallel state's Catch catches the errors of its output processing
  too (a JSONata ``Output`` that fails with ``States.QueryEvaluationError``, a
  ResultPath that does not match), as the ASL's error handling says (moto caught
  only the errors of the state's work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def _error_names(patches: Patches) -> None:
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

    for module in (branches_decl, iteration_worker, state_fail):
        patches.replace(module, "CustomErrorName", error_name)

    from moto.stepfunctions.parser.api import ActivityTimedOutEventDetails
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import (
        StateTaskActivity,
    )

    heartbeat = StatesErrorNameType.StatesHeartbeatTimeout
    timed_out = {
        StateTask: lambda: EventDetails(
            taskTimedOutEventDetails=TaskTimedOutEventDetails(error=heartbeat.to_name())
        ),
        StateTaskActivity: lambda: EventDetails(
            activityTimedOutEventDetails=ActivityTimedOutEventDetails(error=heartbeat.to_name())
        ),
    }
    event_types = {
        StateTask: HistoryEventType.TaskTimedOut,
        StateTaskActivity: HistoryEventType.ActivityTimedOut,
    }
    for task_class in timed_out:
        from_error = task_class._from_error

        def task_from_error(
            self: Any, env: Any, ex: Exception, _from: Any = from_error, _cls: Any = task_class
        ) -> Any:
            if isinstance(ex, HeartbeatTimeoutError):
                return FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=heartbeat),
                    event_type=event_types[_cls],
                    event_details=timed_out[_cls](),
                )
            return _from(self, env, ex)

        patches.replace(task_class, "_from_error", task_from_error)


def state_failure(env: Any, error: str, cause: str) -> Exception:
    """The failure of a state with a ``States.*`` error and its cause, as Retry and Catch see it."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    typ = next(t for t in StatesErrorNameType if t.to_name() == error)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=typ),
            event_type=HistoryEventType.ExecutionFailed,
            event_details=EventDetails(
                executionFailedEventDetails=ExecutionFailedEventDetails(error=error, cause=cause)
            ),
        )
    )


def _no_choice_matched(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice

    choose = StateChoice._eval_state

    def eval_state(self: Any, env: Any) -> None:
        if self.default_state is not None:
            return choose(self, env)
        try:
            return choose(self, env)
        except RuntimeError as exc:
            if "No branching option reached" not in str(exc.args[0] if exc.args else ""):
                raise
            raise state_failure(
                env, "States.NoChoiceMatched", f"No Choice Rule matched in state '{self.name}'"
            ) from None

    patches.replace(StateChoice, "_eval_state", eval_state)


def _result_path_match_failure(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.common.path.result_path import ResultPath

    apply = ResultPath._eval_body

    def eval_body(self: Any, env: Any) -> None:
        try:
            apply(self, env)
        except (TypeError, AttributeError, KeyError, IndexError) as exc:
            raise state_failure(
                env,
                "States.ResultPathMatchFailure",
                f"Unable to apply ResultPath '{self.result_path_src}' to the state's input: {exc}",
            ) from None

    patches.replace(ResultPath, "_eval_body", eval_body)


def _output_errors_are_caught(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    output_of = ExecutionState._eval_state_output

    def eval_state_output(self: Any, env: Any) -> None:
        try:
            output_of(self, env)
        except FailureEventException as exc:
            if not self.catch:
                raise
            failure = exc.failure_event
            error_output = self._construct_error_output_value(failure_event=failure)
            env.states.set_error_output(error_output)
            env.states.set_result(error_output)
            self._handle_catch(env=env, failure_event=failure)
            if env.stack[-1] != CatchOutcome.Caught:
                self._handle_uncaught(env=env, failure_event=failure)

    patches.replace(ExecutionState, "_eval_state_output", eval_state_output)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _error_names(patches)
    _output_errors_are_caught(patches)
    _no_choice_matched(patches)
    _result_path_match_failure(patches)
