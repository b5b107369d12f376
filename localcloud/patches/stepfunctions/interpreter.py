"""The Step Functions interpreter as AWS runs a definition, where moto's differs.

Task tokens: each attempt of a ``.waitForTaskToken`` Task gets a token of its own,
as on AWS (moto reused the first attempt's token on every Retry, so a retried
attempt's work carried the token of the attempt that failed).

``SendTaskSuccess`` refuses an output that is not JSON with ``InvalidOutput`` (moto
accepted it, and the waiting run failed later on a parse error). AWS (SendTaskSuccess,
API reference): "output: The JSON output of the task"; "InvalidOutput: The provided JSON
output data is not valid."

Traces: a Lambda Task passes the state's trace header to the function it invokes.

The service integrations reach the local endpoint with one kept client per service.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import boto3

from localcloud import traces

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

CLIENT_POOL_CONNECTIONS = 100  # the connections each kept client holds open to the local endpoint


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


def _service_clients(patches: Patches, cloud: LocalCloud) -> None:
    """The interpreter's service integrations call the local endpoint with one client per service.

    moto makes a new boto3 client for every Task it runs (a tenth of a burst's CPU); the local
    cloud keeps one per service and region, as thread-safe as a client is, with a connection pool
    as wide as the executions that call it at once. A Lambda Task passes its state's trace header.
    """
    import sys

    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_factory,  # noqa: F401 - imports every integration, each naming the function
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    from localcloud.cloud import FAKE_CREDENTIALS

    make = boto_client.boto_client_for
    kept: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()
    config = Config(
        parameter_validation=False,
        retries={"max_attempts": 0, "total_max_attempts": 1},  # moto's: the Task's Retry retries
        connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        max_pool_connections=CLIENT_POOL_CONNECTIONS,
    )

    def send_trace_header(request: Any, **_: Any) -> None:
        header = traces.current_header.get()
        if header:
            request.headers["X-Amzn-Trace-Id"] = header

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            client = kept.get((region, service))
            if client is None:
                client = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=cloud.endpoint,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    config=config,
                )
                client.meta.events.register(f"before-send.{service}.*", send_trace_header)
                kept[(region, service)] = client
            return client

    # the integrations' modules import the function by name: each one's is replaced, and the source's
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is make:
            patches.replace(module, "boto_client_for", boto_client_for)
    if boto_client.boto_client_for is make:
        patches.replace(boto_client, "boto_client_for", boto_client_for)

    execute_lambda = lambda_eval_utils.execute_lambda_function_integration

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

    patches.replace(
        lambda_eval_utils, "execute_lambda_function_integration", execute_lambda_function_integration
    )


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
    _service_clients(patches, cloud)
