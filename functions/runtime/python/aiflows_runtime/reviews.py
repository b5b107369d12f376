"""Reviews beyond their storage: answering the flow, shared by request_review, the review API and the CLI.

A review is stored (:class:`aiflows_runtime.state.Reviews`) under a short id, with
its task token, which never leaves the server side: it is written with the review,
read back only to answer Step Functions, and expires with the review's TTL. A
review is decided once: only a PENDING review moves on, so a second click changes
nothing.

Who may review what (docs/reviews.md#who-may-review-what): a reviewer's identity names
the tenants they review and their role, as Cognito groups an administrator gives them:
``tenant:<id>`` for each tenant, and ``aiflows-reviewers`` (decides the reviews of their
tenants) or ``aiflows-admins`` (sees and decides every tenant's). A flow's manifest may
require a role of whoever decides its reviews (``[review] role``).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.errors import TOKEN_GONE, error_code
from aiflows_runtime.state import (
    DECIDED,
    EXPIRED,
    PENDING,
    AlreadyApproved,
    AlreadyDecided,
    DynamoDBReviews,
    Review,
    ReviewNotFound,
)
from aiflows_runtime.state.keys import PENDING_INDEX
from aiflows_runtime.state.ports import REVIEW_ID_PATTERN

__all__ = [
    "ADMIN",
    "ADMINS_GROUP",
    "DECIDED",
    "EXPIRED",
    "PENDING",
    "PENDING_INDEX",
    "REVIEWER",
    "REVIEWERS_GROUP",
    "REVIEW_ID_PATTERN",
    "ROLES",
    "ROLE_GROUPS",
    "TENANT_GROUP",
    "AlreadyApproved",
    "AlreadyDecided",
    "DynamoDBReviews",
    "FlowNoLongerWaits",
    "Review",
    "ReviewNotFound",
    "Role",
    "answer_flow",
]

# The roles, weakest first: each holds what the ones before it may do.
REVIEWER: Final = "reviewer"
ADMIN: Final = "admin"
Role = Literal["reviewer", "admin"]
ROLES: tuple[Role, ...] = (REVIEWER, ADMIN)
# The Cognito groups that carry them, and the prefix of a tenant's group (tenant:acme).
REVIEWERS_GROUP, ADMINS_GROUP = "aiflows-reviewers", "aiflows-admins"
ROLE_GROUPS: dict[str, Role] = {REVIEWERS_GROUP: REVIEWER, ADMINS_GROUP: ADMIN}
TENANT_GROUP = "tenant:"


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
