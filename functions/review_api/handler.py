"""review_api: the review API and console, behind API Gateway (REST) with a Cognito authorizer.

    GET  /                         the review console (static HTML and JS)
    GET  /reviews                  pending reviews, oldest first
    GET  /reviews/{id}             one review: scores, evidence, proposed action
    POST /reviews/{id}/decision    approve, reject, or revise with edits: decided once
    GET  /feedback.jsonl           every decision, as an evaluation dataset

API Gateway refuses an unauthenticated request before this function runs; the
function refuses one too (401) when no identity reaches it.
"""

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError, UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from aiflows_runtime.clients import client
from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.feedback import FeedbackStore
from aiflows_runtime.observability import logger, metrics, record_pending_reviews, tracer
from aiflows_runtime.reviews import (
    AlreadyDecided,
    DynamoDBReviews,
    FlowNoLongerWaits,
    ReviewNotFound,
    answer_flow,
)
from aiflows_runtime.settings import settings

from . import logic

CONSOLE = Path(__file__).with_name("console")
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript",
    "console.css": "text/css",
}

app = APIGatewayRestResolver(enable_validation=True)


def stores() -> tuple[DynamoDBReviews, FeedbackStore]:
    table = settings().state_table_name
    return DynamoDBReviews(table, client=client("dynamodb")), FeedbackStore(table, client=client("dynamodb"))


def reviewer() -> str:
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.get("claims") if authorizer else None
    who = logic.reviewer_of(claims)
    if who is None:
        raise UnauthorizedError("sign in to review")
    return who


@app.exception_handler(RequestValidationError)
def invalid(error: RequestValidationError) -> Response[dict[str, Any]]:
    """422 with every problem named: which field, and what is wrong with it."""
    problems = [
        {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", e.get("type", "invalid")))}
        for e in error.errors()
    ]
    message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems)
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body={"message": f"the decision was not accepted: {message}", "errors": problems},
    )


@app.get("/")
def console() -> Response[str]:
    return static("index.html")


@app.get("/console/<name>")
def static(name: str) -> Response[str]:
    if name not in STATIC:
        raise NotFoundError(name)
    return Response(status_code=200, content_type=STATIC[name], body=(CONSOLE / name).read_text())


@app.get("/reviews")
def pending() -> dict[str, Any]:
    reviewer()
    reviews, _ = stores()
    return {
        "reviews": [logic.summary(r.review_id, r.status, r.created_at, r.details) for r in reviews.pending()]
    }


@app.get("/reviews/<review_id>")
def show(review_id: str) -> dict[str, Any]:
    reviewer()
    reviews, _ = stores()
    try:
        review = reviews.get(review_id)
    except ReviewNotFound:
        raise NotFoundError(f"no review {review_id}") from None
    return {
        **logic.summary(review.review_id, review.status, review.created_at, review.details),
        "details": review.details,
        "decision": review.decision,
    }


@app.post("/reviews/<review_id>/decision")
def decide(review_id: str, body: logic.DecisionBody) -> dict[str, Any]:
    who = reviewer()
    reviews, feedback = stores()
    decision = ReviewDecision(review_id=review_id, reviewer=who, **body.model_dump())
    try:
        token = reviews.decide(decision)
    except ReviewNotFound:
        raise NotFoundError(f"no review {review_id}") from None
    except AlreadyDecided:
        raise ServiceError(409, f"review {review_id} was already decided; nothing changed") from None
    try:
        answer_flow(client("stepfunctions"), token, decision)
    except FlowNoLongerWaits:
        reviews.expire(review_id)
        record_pending_reviews(reviews.count_pending())
        raise ServiceError(410, f"the flow no longer waits for review {review_id}") from None
    except Exception:
        reviews.reopen(decision)  # let the reviewer try again: the flow was not answered
        raise
    line = feedback.record(reviews.get(review_id), decision)
    metrics.add_metric(name="ReviewsDecided", unit=MetricUnit.Count, value=1)
    record_pending_reviews(reviews.count_pending())
    logger.info("review decided", extra={"review_id": review_id, "decision": decision.decision})
    return {
        "review_id": review_id,
        "status": "DECIDED",
        "decision": decision.decision,
        "changes": line["human"]["corrections"],
    }


@app.get("/feedback.jsonl")
def export() -> Response[str]:
    reviewer()
    _, feedback = stores()
    return Response(status_code=200, content_type="application/x-ndjson", body=feedback.export_jsonl())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.add_metric(name="ReviewApiRequests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
