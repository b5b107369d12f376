"""review_api: the review API and console, behind API Gateway (REST) with a Cognito authorizer.

    GET  /                         the review console (static HTML and JS)
    GET  /reviews                  pending reviews of the tenants in scope, oldest first; who is asking
    GET  /reviews/{id}             one review: scores, evidence, proposed action
    POST /reviews/{id}/decision    approve, reject, or revise with edits: decided once (four eyes: twice)
    GET  /feedback.jsonl           every decision of the tenants in scope, as an evaluation dataset

API Gateway refuses an unauthenticated request before this function runs; the
function refuses one too (401) when no identity reaches it. What an identity may see
and decide is read from its Cognito groups (logic.py, docs/reviews.md#who-may-review-what):
a review of a tenant out of scope is 404, as one that does not exist.

Every decision and approval goes on the run's audit trail; a final decision also goes on
the bus as ``review.decided``.
"""

import json
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    NotFoundError,
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParameter
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from aiflows_runtime import audit
from aiflows_runtime.bus import put_event
from aiflows_runtime.clients import client
from aiflows_runtime.contracts import REVIEWS_SOURCE, ReviewDecided, ReviewDecision, SubjectRef
from aiflows_runtime.feedback import FeedbackStore, changes
from aiflows_runtime.observability import logger, metrics, record_pending_reviews, trace_handler
from aiflows_runtime.reviews import (
    REVIEW_ID_PATTERN,
    AlreadyApproved,
    AlreadyDecided,
    DynamoDBReviews,
    FlowNoLongerWaits,
    Review,
    ReviewNotFound,
    answer_flow,
)
from aiflows_runtime.settings import settings

from . import logic

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import Example

CONSOLE = Path(__file__).with_name("console")
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript",
    "console.css": "text/css",
}

# A response that breaks its own model is the function's fault: a 500, never a 422 to the caller.
app = APIGatewayRestResolver(
    enable_validation=True, response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR
)
SIGNED_IN: list[dict[str, list[str]]] = [{"cognito": []}]
# Ids are rv- and 8 characters of an alphabet without 0/o, 1/l/i: any other names no review (and past
# 2 KB DynamoDB would refuse the key).
REVIEW_ID_CHARS = 64
ReviewId = Annotated[
    str,
    PathParameter(
        min_length=1,
        max_length=REVIEW_ID_CHARS,
        pattern=REVIEW_ID_PATTERN,
        description="the review's short id, e.g. rv-3mx9q2ka",
    ),
]


def answers(*refusals: int, ok: type[Any] | None = None) -> dict[int, OpenAPIResponse]:
    """A route's answers for the OpenAPI document: its 200 (when it is JSON) and its refusals."""
    declared: dict[int, OpenAPIResponse] = {}
    if ok is not None:
        declared[200] = {"description": "OK", "content": {"application/json": {"model": ok}}}
    for status in refusals:
        model = logic.Refusal if status == 422 else logic.Problem
        declared[status] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"model": model}},
        }
    return declared


def stores() -> tuple[DynamoDBReviews, FeedbackStore]:
    table = settings().state_table_name
    return DynamoDBReviews(table, client=client("dynamodb")), FeedbackStore(table, client=client("dynamodb"))


def reviewer() -> logic.Reviewer:
    """Who is asking, from the claims API Gateway's Cognito authorizer passes (401 when none did)."""
    who = logic.reviewer_of(app.current_event.request_context.authorizer.claims)
    if who is None:
        raise UnauthorizedError("sign in to review")
    return who


# The domain's refusals, mapped here and nowhere else.
def _problem(status: int, message: str) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"statusCode": status, "message": message},
    )


@app.exception_handler(ReviewNotFound)
def no_review(error: ReviewNotFound) -> Response[dict[str, Any]]:
    """404, the same for a review of a tenant out of scope as for none: existence is not revealed."""
    return _problem(404, f"no review {error.args[0]}")


@app.exception_handler(AlreadyDecided)
def already_decided(error: AlreadyDecided) -> Response[dict[str, Any]]:
    return _problem(409, f"review {error.args[0]} was already decided; nothing changed")


@app.exception_handler(AlreadyApproved)
def already_approved(error: AlreadyApproved) -> Response[dict[str, Any]]:
    return _problem(
        409, f"you already approved review {error.args[0]}; its next approval must be another reviewer's"
    )


@app.exception_handler([logic.UnknownTenants, logic.RoleNeeded, logic.OwnRun])
def forbidden(error: Exception) -> Response[dict[str, Any]]:
    """403, naming what is wrong: a tenant the reviews do not know, or the role a review needs."""
    return _problem(HTTPStatus.FORBIDDEN.value, str(error))


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
        body={"message": f"the request was not accepted: {message}", "errors": problems},
    )


@app.not_found
def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
    """404, saying what was not found: a route names the review or the file; when no route matches,
    the method and the path (rather than the router's bare "Not found")."""
    message = error.msg
    if message == NotFoundError().msg:
        event = app.current_event
        message = f"the review API has no route {event.http_method} {event.path}"
    return Response(
        status_code=404,
        content_type=content_types.APPLICATION_JSON,
        body={"statusCode": 404, "message": message},
    )


@app.get("/", responses={200: {"description": "the review console's page"}})
def console() -> Response[str]:
    return static("index.html")


def console_examples() -> "dict[str, Example]":
    """The console's files as the document's examples of a file name. Plain Example Objects: the
    document's own models validate them when it is built, so a cold start never imports those models."""
    return cast("dict[str, Example]", {name: {"value": name} for name in sorted(STATIC)})


ConsoleFile = Annotated[
    str,
    PathParameter(description="a file of the console", openapi_examples=console_examples()),
]


@app.get("/console/<name>", responses={200: {"description": "a file of the console"}, **answers(404)})
def static(name: ConsoleFile) -> Response[str]:
    if name not in STATIC:
        raise NotFoundError(f"the console has no file {name!r}; it has {', '.join(sorted(STATIC))}")
    return Response(status_code=200, content_type=STATIC[name], body=(CONSOLE / name).read_text())


@app.get("/reviews", security=SIGNED_IN, responses=answers(401, 403, ok=logic.ReviewList))
def pending() -> logic.ReviewList:
    who = reviewer()
    reviews, _ = stores()
    waiting = logic.pending_for(reviews, who)
    rows = [logic.summary(r) for r in waiting]
    return logic.ReviewList.model_validate({"reviews": rows, "signed_in": who.signed_in()})


@app.get(
    "/reviews/<review_id>", security=SIGNED_IN, responses=answers(401, 403, 404, 422, ok=logic.ReviewShown)
)
def show(review_id: ReviewId) -> logic.ReviewShown:
    who = reviewer()
    reviews, _ = stores()
    review = logic.review_for(reviews, who, review_id)
    return logic.ReviewShown.model_validate(
        {
            **logic.summary(review),
            "details": review.details,
            "decision": review.decision,
        }
    )


@app.post(
    "/reviews/<review_id>/decision",
    security=SIGNED_IN,
    responses=answers(401, 403, 404, 409, 410, 422, ok=logic.DecisionAnswer),
)
def decide(review_id: ReviewId, body: logic.DecisionBody) -> logic.DecisionAnswer:
    who = reviewer()
    reviews, feedback = stores()
    review = logic.decidable_by(reviews, who, review_id)
    given = ReviewDecision(review_id=review_id, reviewer=who.name, **body.model_dump())
    step = logic.next_step(review, given)
    if step.final is None:  # four eyes: this approval is kept, and the review waits for another's
        kept = reviews.approve(given, restart=step.restart)
        edited = changes(kept, given)
        audit_decision("review.approved", kept, given, edited)
        logger.info("review approved, another approval needed", extra={"review_id": review_id})
        return answer(kept, "PENDING", given, edited)
    decision = step.final
    token = reviews.decide(decision)
    try:
        answer_flow(client("stepfunctions"), token, decision)
    except FlowNoLongerWaits:
        reviews.expire(review_id)
        record_pending_reviews(reviews.count_pending())
        audit.record("review.expired", run_of(review), actor=who.name, review_id=review_id)
        raise ServiceError(410, f"the flow no longer waits for review {review_id}") from None
    except Exception:
        reviews.reopen(decision)  # let the reviewer try again: the flow was not answered
        raise
    decided = reviews.get(review_id)
    line = feedback.record(decided, decision)
    edited = line["human"]["corrections"]
    audit_decision("review.decided", decided, decision, edited)
    try:
        announce(decided, decision, edited)
    except Exception:  # noqa: BLE001 - the flow has its answer and the trail its record: keep them
        logger.exception("review.decided could not be put on the bus", extra={"review_id": review_id})
        metrics.add_metric(name="ReviewDecidedNotAnnounced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ReviewsDecided", unit=MetricUnit.Count, value=1)
    record_pending_reviews(reviews.count_pending())
    logger.info("review decided", extra={"review_id": review_id, "decision": decision.decision})
    return answer(decided, "DECIDED", decision, edited)


def run_of(review: Review) -> audit.RunOf:
    """The run a review belongs to, as the audit trail names it."""
    return audit.RunOf(review.correlation_id, str(review.details.get("flow")), review.tenant)


def audit_decision(what: str, review: Review, decision: ReviewDecision, edited: dict[str, Any]) -> None:
    audit.record(
        what,
        run_of(review),
        actor=decision.reviewer,
        review_id=review.review_id,
        details={
            "decision": decision.decision,
            "reason": decision.reason,
            "approved_by": decision.approved_by or review.approved_by,
            "approvals_needed": review.approvals_needed,
        },
        changes=edited or None,
    )


def announce(review: Review, decision: ReviewDecision, edited: dict[str, Any]) -> None:
    """``review.decided`` on the bus: the final decision, who approved, and which fields changed."""
    subject = review.details.get("subject") or {}
    detail = ReviewDecided(
        review_id=review.review_id,
        correlation_id=review.correlation_id,
        flow=str(review.details.get("flow")),
        tenant=review.tenant,
        subject=SubjectRef(id=str(subject.get("id")), kind=str(subject.get("kind"))),
        decision=decision.decision,
        reviewer=decision.reviewer,
        approved_by=decision.approved_by,
        changed=sorted(edited),
    )
    put_event(
        client("events"), settings().event_bus_name, REVIEWS_SOURCE, "review.decided", detail.model_dump()
    )


def answer(
    review: Review, status: str, decision: ReviewDecision, edited: dict[str, Any]
) -> logic.DecisionAnswer:
    return logic.DecisionAnswer.model_validate(
        {
            "review_id": review.review_id,
            "status": status,
            "decision": decision.decision,
            "changes": edited,
            "approved_by": decision.approved_by or review.approved_by,
            "approvals_needed": review.approvals_needed,
        }
    )


@app.get(
    "/feedback.jsonl",
    security=SIGNED_IN,
    responses={
        200: {
            "description": "the decisions of the tenants in scope, a JSON line each (application/x-ndjson)"
        },
        **answers(401, 403),
    },
)
def export() -> Response[str]:
    who = reviewer()
    reviews, feedback = stores()
    scope = logic.scope_of(reviews, who)
    lines = logic.feedback_for(feedback.lines(), scope)
    body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    return Response(status_code=200, content_type="application/x-ndjson", body=body)


def openapi_document() -> str:
    """The OpenAPI document (JSON) of the review API: each route's parameters, bodies and answers, and
    which routes need the Cognito ID token that API Gateway's authorizer checks.

    Built when asked (the tests, the fuzz suite), never at a cold start: importing the document's models
    took about 40 ms, a sixth of the function's import (docs/capabilities.md#cold-start)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return app.get_openapi_json_schema(
        title="aiflows review API",
        version="1.0.0",
        description="Human review of any flow's runs: list, read, and decide once.",
        security_schemes={
            "cognito": APIKey(
                name="Authorization",
                in_=APIKeyIn.header,
                description=(
                    "a Cognito ID token of the reviewers' user pool (API Gateway's authorizer checks it)"
                ),
            )
        },
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@trace_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.add_metric(name="ReviewApiRequests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
