"""request_review: store a review for a person, announce it, and leave the flow waiting.

Called through ``lambda:invoke.waitForTaskToken``: the flow waits until the review
API answers the token (or the Review state's TimeoutSeconds escalates it). The token
is stored with the review and never returned or published. A reminder or an
escalation replaces the run's earlier review, found by the run's key.

Idempotent on the task token: a retried invocation (Lambda's own retry after a
timeout) returns the review it already stored, and announces nothing twice.

The review keeps how many reviewers must approve it (two when the flow's actions.toml
``[four_eyes]`` says so of its proposed action) and who submitted the run's subject
(who may never decide it). The request, and the earlier review it replaces, go on the
run's audit trail.
"""

from typing import Any

from aiflows_runtime import audit
from aiflows_runtime.actions import approvals_needed
from aiflows_runtime.bus import put_event
from aiflows_runtime.capability import idempotent_step, register_context
from aiflows_runtime.clients import client
from aiflows_runtime.contracts import REVIEWS_SOURCE, parse_input
from aiflows_runtime.observability import capability_handler, logger, record_pending_reviews
from aiflows_runtime.policies import action_policy
from aiflows_runtime.settings import settings
from aiflows_runtime.state import PENDING, DynamoDBReviews

from .contract import ReviewRequest, ReviewTicket

CAPABILITY = "request_review"


@idempotent_step(CAPABILITY, key="task_token")
def request_review(request: ReviewRequest) -> dict[str, Any]:
    config = settings()
    details = request.model_dump(mode="json", exclude={"task_token"})
    if (details.get("document") or {}).get("text_ref"):
        details["document"].pop("text", None)  # a large text stays in S3: the console reads it there
    needed, why = approvals_needed(action_policy(request.flow), request.proposed_action, request.risk)
    details.update(approvals_needed=needed, four_eyes=why, submitted_by=request.submitted_by)
    store = DynamoDBReviews(config.state_table_name, client=client("dynamodb"))
    earlier = store.of_run(request.correlation_id)
    review_id = store.create(request.task_token, details)
    record_pending_reviews(store.count_pending())
    run = audit.RunOf(request.correlation_id, request.flow, request.subject.tenant)
    flow = audit.flow_actor(request.flow)
    if earlier is not None and earlier.status == PENDING:
        audit.record(
            "review.expired", run, actor=flow, review_id=earlier.review_id, details={"replaced_by": review_id}
        )
    asked = (
        "review.escalated"
        if request.escalation
        else "review.reminded"
        if request.reminder
        else "review.requested"
    )
    audit.record(
        asked,
        run,
        actor=flow,
        review_id=review_id,
        details={"step": request.step, "risk": request.risk, "approvals_needed": needed, "four_eyes": why},
    )
    put_event(
        client("events"),
        config.event_bus_name,
        REVIEWS_SOURCE,
        "review.requested",
        {
            "review_id": review_id,
            "correlation_id": request.correlation_id,
            "flow": request.flow,
            "step": request.step,
            "subject": {"id": request.subject.id, "kind": request.subject.kind},
            "tenant": request.subject.tenant,
            "reminder": request.reminder,
            "escalation": request.escalation,
            "confidence": request.confidence,
            "risk": request.risk,
            "approvals_needed": needed,
        },
    )
    logger.info(
        "review requested",
        extra={"review_id": review_id, "reminder": request.reminder, "escalation": request.escalation},
    )
    return ReviewTicket(review_id=review_id, status="PENDING").model_dump()


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return request_review(request=parse_input(event, ReviewRequest))
