"""The Step Functions interpreter as AWS runs a definition, where moto's differs.

Task tokens: each attempt of a ``.waitForTaskToken`` Task gets a token of its own,
as on AWS (moto reused the first attempt's token on every Retry, so a retried
attempt's work carried the token of the attempt that failed).

``SendTaskSuccess`` refuses an output that is not JSON with ``InvalidOutput`` (moto
accepted it, and the waiting run failed later on a parse error). AWS (SendTaskSuccess,
API reference): "output: The JSON output of the task"; "InvalidOutput: The provided JSON
output data is not valid."

Traces: a Lambda Task passes the state's trace header to the function it invokes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud import traces

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def _task_token_per_attempt(patches: Patches) -> None:
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

    patches.replace(StateTaskServiceCallback, "_eval_execution", eval_execution)


def _lambda_trace_header(patches: Patches, cloud: LocalCloud) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    execute_lambda = lambda_eval_utils.execute_lambda_function_integration
    client_for = lambda_eval_utils.boto_client_for

    def execute_lambda_function_integration(env: Any, *args: Any, **kwargs: Any) -> Any:
        context = env.states.context_object.context_object_data
        state = context.get("State", {})
        token = traces.current_header.set(
            cloud.traces.task_header(
                context["Execution"]["Id"], state.get("Name", ""), str(state.get("EnteredTime", ""))
            )
        )
        try:
            return execute_lambda(env, *args, **kwargs)
        finally:
            traces.current_header.reset(token)

    def boto_client_for(*args: Any, **kwargs: Any) -> Any:
        client = client_for(*args, **kwargs)
        trace_header = traces.current_header.get()
        if trace_header:
            client.meta.events.register(
                "before-send.lambda.Invoke",
                lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", trace_header),
            )
        return client

    patches.replace(
        lambda_eval_utils, "execute_lambda_function_integration", execute_lambda_function_integration
    )
    patches.replace(lambda_eval_utils, "boto_client_for", boto_client_for)


def _json_task_output(patches: Patches) -> None:
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.responses import StepFunctionResponse

    class InvalidOutput(AWSError):
        TYPE = "InvalidOutput"
        STATUS = 400

    succeed = StepFunctionResponse.send_task_success

    def send_task_success(self: Any) -> Any:
        output = self._get_param("output")
        try:
            json.loads(output)
        except (TypeError, ValueError):
            raise InvalidOutput("The provided JSON output data is not valid") from None
        return succeed(self)

    patches.replace(StepFunctionResponse, "send_task_success", send_task_success)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _task_token_per_attempt(patches)
    _json_task_output(patches)
    _lambda_trace_header(patches, cloud)
