"""request_review: store a review for a person, announce it, and leave the flow waiting.

Called through ``lambda:invoke.waitForTaskToken``: the flow waits until the review
API answers the token (or the Review state's TimeoutSeconds escalates it). The token
is stored with the review and never returned or published.
"""

import json
from typing import Any

from aiflows_runtime.clients import client
from aiflows_runtime.contracts import REVIEWS_SOURCE, parse_input
from aiflows_runtime.observability import capability_handler, logger, record_pending_reviews
from aiflows_runtime.reviews import ReviewStore
from aiflows_runtime.settings import settings

from .contract import ReviewRequest, ReviewTicket

CAPABILITY = "request_review"


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_input(event, ReviewRequest)
    config = settings()
    dynamodb, events = client("dynamodb"), client("events")
    details = request.model_dump(mode="json", exclude={"task_token"})
    if (details.get("document") or {}).get("text_ref"):
        details["document"].pop("text", None)  # a large text stays in S3: the console reads it there
    store = ReviewStore(config.state_table_name, client=dynamodb)
    # A reminder or an escalation replaces the run's earlier request: its token no longer waits.
    for earlier in store.pending():
        if earlier.details.get("correlation_id") == request.correlation_id:
            store.expire(earlier.review_id)
    review_id = store.create(request.task_token, details)
    record_pending_reviews(store.count_pending())
    if not config.event_bus_name:
        raise RuntimeError("request_review needs EVENT_BUS_NAME to announce the review")
    events.put_events(
        Entries=[
            {
                "EventBusName": config.event_bus_name,
                "Source": REVIEWS_SOURCE,
                "DetailType": "review.requested",
                "Detail": json.dumps(
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
                    }
                ),
            }
        ]
    )
    logger.info(
        "review requested",
        extra={"review_id": review_id, "reminder": request.reminder, "escalation": request.escalation},
    )
    return ReviewTicket(review_id=review_id, status="PENDING").model_dump()
