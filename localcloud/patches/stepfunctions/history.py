"""GetExecutionHistory as AWS pages it (moto answers every event at once, oldest first).

AWS (GetExecutionHistory, API reference): "By default, the results are returned in
ascending order of the timeStamp of the events. Use the reverseOrder parameter to get
the latest events first. If nextToken is returned, there are more results available";
``maxResults`` is "the maximum number of results that are returned per call ... The
default is 100 and the maximum allowed page size is 1000. A value of 0 uses the
default"; ``includeExecutionData`` (default true) selects "whether execution data (input
or output of a history event) is returned". A token that is not one of the execution's
answers ``InvalidToken``.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

DEFAULT_PAGE, MAX_PAGE = 100, 1000
# what includeExecutionData=false leaves out of an event's details
_EXECUTION_DATA = ("input", "output", "inputDetails", "outputDetails")


def page_token(execution_arn: str, offset: int, reverse: bool) -> str:
    return base64.urlsafe_b64encode(json.dumps([execution_arn, offset, reverse]).encode()).decode()


def read_token(token: str, execution_arn: str, reverse: bool) -> int | None:
    """The offset a token of this execution (and this order) stands for, else ``None``."""
    try:
        arn, offset, order = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    if arn != execution_arn or order != reverse or not isinstance(offset, int) or offset < 0:
        return None
    return offset


def without_execution_data(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in value.items() if k not in _EXECUTION_DATA}
        if key.endswith("EventDetails") and isinstance(value, dict)
        else value
        for key, value in event.items()
    }


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import InvalidToken, ValidationException
    from moto.stepfunctions.responses import StepFunctionResponse

    whole = StepFunctionResponse.get_execution_history

    def get_execution_history(self: Any) -> ActionResult:
        arn = self._get_param("executionArn")
        answer = whole(self)
        events = list(answer.result["events"])
        reverse = bool(self._get_param("reverseOrder", False))
        size = int(self._get_param("maxResults", 0) or 0) or DEFAULT_PAGE
        if not 0 < size <= MAX_PAGE:
            raise ValidationException(
                f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
                f"Member must have value less than or equal to {MAX_PAGE}"
            )
        token = self._get_param("nextToken")
        offset = 0
        if token:
            found = read_token(token, arn, reverse)
            if found is None:
                raise InvalidToken(f"'{token}'")
            offset = found
        ordered = events[::-1] if reverse else events
        page = ordered[offset : offset + size]
        if self._get_param("includeExecutionData", True) is False:
            page = [without_execution_data(e) for e in page]
        result: dict[str, Any] = {"events": page}
        if offset + size < len(ordered):
            result["nextToken"] = page_token(arn, offset + size, reverse)
        return ActionResult(result)

    patches.replace(StepFunctionResponse, "get_execution_history", get_execution_history)
