"""Service integrations of Task states, answered as AWS answers them.

- An aws-sdk integration's answer is JSON: ``s3:getObject`` returns the object's
  ``Body`` as text, timestamps (``LastModified``) are ISO 8601 strings (moto kept the
  streaming body, which the interpreter cannot copy: "cannot pickle BufferedReader",
  States.Runtime; and a datetime broke DescribeExecution with an HTTP 500).
- A service's error is the state's error ``<Service>.<ErrorCode>``, which a Retry or a
  Catch can name ("Lambda errors are reported as Lambda.<ErrorName>", Step Functions'
  *Handle Lambda service exceptions*), whatever the answer lacked: moto quoted the
  answer's request id in the Cause, and an error answer without one (a Lambda invoke
  cut off under load) failed the state with an uncatchable ``States.Runtime``
  (KeyError 'RequestId').
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.patches.stepfunctions.api import iso_8601

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def _as_json(value: Any) -> Any:
    from botocore.response import StreamingBody

    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return iso_8601(value)
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value


def with_response_metadata(error: Any) -> Any:
    """A ClientError whose answer names its status and request id, as every AWS answer does."""
    metadata = error.response.setdefault("ResponseMetadata", {})
    metadata.setdefault("RequestId", str(uuid.uuid4()))
    metadata.setdefault("HTTPStatusCode", 500)
    return error


def _service_errors_named(patches: Patches) -> None:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_factory,  # noqa: F401  (imports every service integration)
    )

    def subclasses(cls: type[Any]) -> list[type[Any]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    for service in subclasses(state_task_service.StateTaskService):
        if "_from_error" not in service.__dict__:
            continue
        from_error = service.__dict__["_from_error"]

        def named(self: Any, env: Any, ex: Exception, _from_error: Any = from_error) -> Any:
            if isinstance(ex, ClientError):
                with_response_metadata(ex)
            return _from_error(self, env, ex)

        patches.replace(service, "_from_error", named)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _service_errors_named(patches)
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
    )

    StateTaskServiceAwsSdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk

    call = StateTaskServiceAwsSdk._eval_service_task

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        call(self, env, *args, **kwargs)
        env.stack.append(_as_json(env.stack.pop()))

    patches.replace(StateTaskServiceAwsSdk, "_eval_service_task", eval_service_task)
