"""One run per event: the first execution that claims an event's id owns it.

EventBridge delivers at least once, so the same ``document.submitted`` may start two
executions. The flow's first step claims ``run#<event id>`` with a conditional write;
a second execution of the same event finds the claim held by another execution and
ends in the flow's ``Duplicate`` state, having done nothing.
"""

from __future__ import annotations

import time
from typing import Any

from aiflows_runtime.errors import FlowError, error_code

CLAIM_TTL_SECONDS = 14 * 24 * 3600


class DuplicateRun(FlowError):
    """Another execution already runs this event."""


def claim_run(dynamodb: Any, table: str, correlation_id: str, execution: str, clock: Any = time.time) -> None:
    """Claim the run for this execution; a retry of the same execution keeps its claim."""
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"run#{correlation_id}"},
                "sk": {"S": "claim"},
                "execution": {"S": execution},
                "expiration": {"N": str(int(clock() + CLAIM_TTL_SECONDS))},
            },
            ConditionExpression="attribute_not_exists(pk) OR execution = :mine",
            ExpressionAttributeValues={":mine": {"S": execution}},
        )
    except Exception as exc:
        code = error_code(exc)
        if code == "ConditionalCheckFailedException":
            raise DuplicateRun(f"event {correlation_id} is already run by another execution") from None
        raise
