"""Reviews beyond their storage: answering the flow, shared by request_review, the review API and the CLI.

A review is stored (:class:`aiflows_runtime.state.Reviews`) under a short id, with
its task token, which never leaves the server side: it is written with the review,
read back only to answer Step Functions, and expires with the review's TTL. A
review is decided once: only a PENDING review moves on, so a second click changes
nothing.
"""

from __future__ import annotations

from typing import Any

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.errors import TOKEN_GONE, error_code
from aiflows_runtime.state import (
    DECIDED,
    EXPIRED,
    PENDING,
    AlreadyDecided,
    DynamoDBReviews,
    Review,
    ReviewNotFound,
)
from aiflows_runtime.state.keys import PENDING_INDEX

__all__ = [
    "DECIDED",
    "EXPIRED",
    "PENDING",
    "PENDING_INDEX",
    "AlreadyDecided",
    "DynamoDBReviews",
    "FlowNoLongerWaits",
    "Review",
    "ReviewNotFound",
    "answer_flow",
]


class FlowNoLongerWaits(Exception):
    """The task token was answered, timed out or stopped: the decision cannot reach the flow."""


def answer_flow(sfn: Any, task_token: str, decision: ReviewDecision) -> None:
    """Answer the waiting flow: the decision is the Review state's result."""
    try:
        sfn.send_task_success(taskToken=task_token, output=decision.model_dump_json())
    except Exception as exc:
        code = error_code(exc)
        if code in TOKEN_GONE:
            raise FlowNoLongerWaits(code) from exc
        raise
