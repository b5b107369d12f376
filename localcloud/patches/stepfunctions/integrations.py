"""Service integrations of Task states, answered as AWS answers them.

- An aws-sdk integration's answer is JSON: ``s3:getObject`` returns the object's
  ``Body`` as text, timestamps (``LastModified``) are ISO 8601 strings (moto kept the
  streaming body, which the interpreter cannot copy: "cannot pickle BufferedReader",
  States.Runtime; and a datetime broke DescribeExecution with an HTTP 500).
"""

from __future__ import annotations

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


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
    )

    StateTaskServiceAwsSdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk

    call = StateTaskServiceAwsSdk._eval_service_task

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        call(self, env, *args, **kwargs)
        env.stack.append(_as_json(env.stack.pop()))

    patches.replace(StateTaskServiceAwsSdk, "_eval_service_task", eval_service_task)
