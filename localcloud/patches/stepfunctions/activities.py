"""Activities: a Task whose Resource is an activity ARN waits for a worker, as on AWS.

- A Task on an activity queues a task for it; ``GetActivityTask`` hands the oldest to a
  worker (a long poll of up to 60 seconds, as AWS's), ``SendTaskSuccess``,
  ``SendTaskFailure`` and ``SendTaskHeartbeat`` answer it with its token; the Task's
  TimeoutSeconds and HeartbeatSeconds hold (moto's executions had no activities to
  queue on: every activity Task failed with States.Runtime, and there was no
  GetActivityTask).
- ``SendTaskFailure``'s ``cause`` reaches the Task's failure (moto dropped it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

POLL_SECONDS = 60.0  # GetActivityTask waits this long for a task before answering with none


def _endpoint_of(backend: Any, task_token: str) -> Any:
    """The activity Task waiting for this token, in whichever execution it runs."""
    for machine in list(backend.state_machines):
        for execution in list(machine.executions):
            worker = getattr(execution, "exec_worker", None)
            env = getattr(worker, "env", None)
            if env is not None and execution.status == "RUNNING":
                endpoint = env.callback_pool_manager._pool.get(task_token)
                if endpoint is not None:
                    return endpoint
    return None


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.stepfunctions.exceptions import ActivityDoesNotExist
    from moto.stepfunctions.parser.asl.eval.callback.callback import ActivityTaskStartEndpoint
    from moto.stepfunctions.parser.backend.activity import Activity
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.responses import StepFunctionResponse

    class Activities(dict[str, Activity]):
        """The queues of one region's activities, made as the activities are first used."""

        def __init__(self, account: str, region: str) -> None:
            super().__init__()
            self._backend = stepfunctions_parser_backends[account][region]

        def get(self, arn: str, default: Any = None) -> Any:
            if arn not in self:
                known = self._backend.activities.get(arn)
                if known is None:
                    return default
                self[arn] = Activity(arn=arn, name=known.name)
            return self[arn]

    queues: dict[tuple[str, str], Activities] = {}

    def activities(account: str, region: str) -> Activities:
        return queues.setdefault((account, region), Activities(account, region))

    execution_init = Execution.__init__

    def init_execution(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["activity_store"] = activities(kwargs["account_id"], kwargs["region_name"])
        execution_init(self, *args, **kwargs)

    patches.replace(Execution, "__init__", init_execution)

    def get_activity_task(self: Any) -> ActionResult:
        arn = self._get_param("activityArn")
        activity = activities(self.current_account, self.region).get(arn)
        if activity is None:
            raise ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        deadline = time.monotonic() + POLL_SECONDS
        while True:
            try:
                task = activity._tasks.popleft()
            except IndexError:
                if time.monotonic() > deadline:
                    return ActionResult({})
                time.sleep(0.01)
                continue
            endpoint = _endpoint_of(self.stepfunction_backend, task.task_token)
            if endpoint is None:
                continue  # its execution ended (stopped, timed out) before a worker came
            endpoint.notify_activity_task_start(worker_name=self._get_param("workerName"))
            return ActionResult({"taskToken": task.task_token, "input": task.task_input})

    patches.add(StepFunctionResponse, "get_activity_task", get_activity_task)

    start_endpoint_init = ActivityTaskStartEndpoint.__init__

    def init_start_endpoint(self: Any) -> None:
        start_endpoint_init(self)
        self._outcome = None  # no worker yet: the Task's TimeoutSeconds may end the wait (moto left it unset)

    patches.replace(ActivityTaskStartEndpoint, "__init__", init_start_endpoint)

    def send_task_failure(self: Any) -> ActionResult:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    patches.replace(StepFunctionResponse, "send_task_failure", send_task_failure)
