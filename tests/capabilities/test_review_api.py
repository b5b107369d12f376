"""The review API handler: who may decide, what a decision may say, and that it counts once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from aiflows_runtime.reviews import DynamoDBReviews
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, api_request, import_function_module, load_handler

pytestmark = pytest.mark.usefixtures("function_env")
# a reviewer of acme, DETAILS' tenant (docs/reviews.md#who-may-review-what)
ADA = "ada@example.com"
REVIEWER = {"email": ADA, "sub": "u-1", "cognito:groups": "aiflows-reviewers,tenant:acme"}

DETAILS = {
    "correlation_id": "run-r",
    "flow": "document_intake",
    "step": "Review",
    "escalation": False,
    "reminder": False,
    "subject": {"id": "inv-9", "kind": "document", "tenant": "acme"},
    "summary": "An invoice of 90.00 EUR.",
    "confidence": 0.6,
    "risk": "medium",
    "findings": [],
    "evidence": ["invoice"],
    "fields": {"total": {"value": "90.00", "evidence": {"start": 18, "end": 27, "text": "90.00 EUR"}}},
    "document": {"document_id": "inv-9", "tenant": "acme", "text": "Invoice 9. Total: 90.00 EUR."},
    "proposed_action": {"action": "write_record", "payload": {}},
    "models": [
        {"model_id": "m", "prompt_id": "classify/v1", "cost_usd": 0.0, "cache_hit": False},
        {"model_id": "m", "prompt_id": "extract/v1", "cost_usd": 0.0, "cache_hit": False},
    ],
    "details": {"label": "invoice"},
}


def request(
    method: str, path: str, body: Any = None, claims: dict[str, Any] | None = REVIEWER
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the Cognito-authorized API sends it."""
    return api_request(method, path, body, claims)


def call(context: Context, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    answer = load_handler("review_api").lambda_handler(request(*args, **kwargs), context)
    body = answer["body"]
    content_type = answer["multiValueHeaders"]["Content-Type"][0]
    if content_type == "application/json":
        body = json.loads(body)
    return answer["statusCode"], body


def wait_for_a_person(
    cloud: LocalCloud, state_table: str, timeout_seconds: int = 600, details: dict[str, Any] = DETAILS
) -> tuple[str, str]:
    """A flow waiting on a task token, and the review of ``details`` holding it: (review id, execution)."""
    sqs, sfn = cloud.client("sqs"), cloud.client("stepfunctions")
    url = sqs.create_queue(QueueName=f"tokens-{time.monotonic_ns()}")["QueueUrl"]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": timeout_seconds,
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"wait-{time.monotonic_ns()}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="w")["executionArn"]
    messages: list[dict[str, Any]] = []
    while not messages:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]
    review_id = DynamoDBReviews(state_table, client=cloud.client("dynamodb")).create(token, details)
    return review_id, execution


@pytest.fixture
def waiting(cloud: LocalCloud, state_table: str) -> tuple[str, str]:
    return wait_for_a_person(cloud, state_table)


def test_an_unauthenticated_request_gets_401(context: Context, waiting: tuple[str, str]) -> None:
    for method, path in (("GET", "/reviews"), ("GET", f"/reviews/{waiting[0]}")):
        status, _ = call(context, method, path, claims=None)
        assert status == 401
    status, _ = call(context, "POST", f"/reviews/{waiting[0]}/decision", {"decision": "approve"}, claims={})
    assert status == 401


def test_pending_reviews_are_listed_without_their_token(context: Context, waiting: tuple[str, str]) -> None:
    status, body = call(context, "GET", "/reviews")
    assert status == 200
    [row] = body["reviews"]
    assert (row["review_id"], row["confidence"], row["risk"]) == (waiting[0], 0.6, "medium")
    status, shown = call(context, "GET", f"/reviews/{waiting[0]}")
    assert status == 200 and shown["details"]["fields"]["total"]["value"] == "90.00"
    assert "token" not in json.dumps(body) + json.dumps(shown).replace("task_token", "")
    assert "task_token" not in json.dumps(shown)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"decision": "reject"}, "a rejection needs a reason"),
        ({"decision": "revise", "reason": "typo"}, "a revision needs at least one edited field"),
        ({"decision": "approve", "edits": {"total": "1"}}, "only a revision carries edits"),
        ({"decision": "approve", "reviewer": "mallory"}, "reviewer"),
        # (found by tests/fuzz: an edit of 200 KB of emoji overflowed the review's DynamoDB item, a 500)
        ({"decision": "revise", "edits": {"total": "\U0001f4a9" * 50_000}}, "body.edits.total"),
        ({"decision": "revise", "edits": {f"f{n}": "9" * 2000 for n in range(10)}}, "more than the 16384"),
        ({"decision": "revise", "edits": {f"f{n}": "1" for n in range(51)}}, "body.edits"),
    ],
)
def test_an_invalid_decision_is_refused_and_changes_nothing(
    cloud: LocalCloud, context: Context, waiting: tuple[str, str], body: dict[str, Any], problem: str
) -> None:
    status, answer = call(context, "POST", f"/reviews/{waiting[0]}/decision", body)
    assert status == 422
    assert problem in json.dumps(answer)
    status, shown = call(context, "GET", f"/reviews/{waiting[0]}")
    assert shown["status"] == "PENDING"


@pytest.mark.parametrize(
    ("body", "output"),
    [
        ({"decision": "approve"}, {"decision": "approve", "reason": "", "edits": {}, "approved_by": [ADA]}),
        (
            {"decision": "reject", "reason": "wrong tenant"},
            {"decision": "reject", "reason": "wrong tenant", "edits": {}, "approved_by": []},
        ),
        (
            {"decision": "revise", "reason": "typo", "edits": {"total": "99.00"}},
            {"decision": "revise", "reason": "typo", "edits": {"total": "99.00"}, "approved_by": [ADA]},
        ),
    ],
)
def test_each_decision_answers_the_flow_once(
    cloud: LocalCloud,
    context: Context,
    waiting: tuple[str, str],
    body: dict[str, Any],
    output: dict[str, Any],
) -> None:
    review_id, execution = waiting
    # When the reviewer decides
    status, answer = call(context, "POST", f"/reviews/{review_id}/decision", body)
    assert status == 200 and answer["status"] == "DECIDED"
    # Then the flow got the decision, with who made it
    done = cloud.wait_for_execution(execution, timeout=10)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"review_id": review_id, "reviewer": ADA, **output}
    # And a second decision gets 409 and changes nothing
    status, _ = call(
        context, "POST", f"/reviews/{review_id}/decision", {"decision": "reject", "reason": "late"}
    )
    assert status == 409
    assert call(context, "GET", f"/reviews/{review_id}")[1]["decision"]["decision"] == body["decision"]


def test_every_decision_is_kept_as_feedback_and_exported(context: Context, waiting: tuple[str, str]) -> None:
    review_id, _ = waiting
    call(
        context,
        "POST",
        f"/reviews/{review_id}/decision",
        {"decision": "revise", "reason": "typo", "edits": {"total": "99.00"}},
    )
    status, body = call(context, "GET", "/feedback.jsonl")
    assert status == 200
    [line] = [json.loads(raw) for raw in body.splitlines()]
    assert line["id"] == review_id
    assert line["human"]["reviewer"] == "ada@example.com"
    assert line["human"]["corrections"] == {"total": {"before": "90.00", "after": "99.00"}}
    assert line["model_output"] == {
        "confidence": 0.6,
        "fields": {"total": "90.00"},
        "details": {"label": "invoice"},
    }
    assert line["decided_at"] > 0


def test_a_decision_for_a_flow_that_stopped_waiting_is_410(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    # Given a review whose flow gave up waiting (its TimeoutSeconds passed)
    review_id, execution = wait_for_a_person(cloud, state_table, timeout_seconds=1)
    assert cloud.wait_for_execution(execution, timeout=20)["status"] == "FAILED"
    status, _ = call(context, "POST", f"/reviews/{review_id}/decision", {"decision": "approve"})
    assert status == 410
    assert call(context, "GET", f"/reviews/{review_id}")[1]["status"] == "EXPIRED"


def test_an_unknown_review_is_404(context: Context, waiting: tuple[str, str]) -> None:
    assert call(context, "GET", "/reviews/rv-23456789")[0] == 404
    assert call(context, "POST", "/reviews/rv-23456789/decision", {"decision": "approve"})[0] == 404


def test_a_review_id_longer_than_any_is_422_naming_it(context: Context) -> None:
    # (found by tests/fuzz: any id went to DynamoDB, whose key holds at most 2,048 bytes)
    status, body = call(context, "GET", "/reviews/" + "9" * 3000)
    assert status == 422
    assert body["message"] == (
        "the request was not accepted: path.review_id: String should have at most 64 characters"
    )


def test_what_the_api_does_not_have_is_404_naming_it(context: Context) -> None:
    # (found by tests/fuzz: a bare "Not found", or the file's name alone, said nothing of what was asked)
    assert call(context, "DELETE", "/reviews")[1]["message"] == "the review API has no route DELETE /reviews"
    assert call(context, "GET", "/nothing")[1]["message"] == "the review API has no route GET /nothing"
    status, body = call(context, "GET", "/console/secret.txt", claims=None)
    assert (status, body["message"]) == (
        404,
        "the console has no file 'secret.txt'; it has console.css, console.js, index.html",
    )


def test_the_openapi_document_declares_each_routes_answers_and_who_may_call_it() -> None:
    document = json.loads(import_function_module("review_api").openapi_document())
    operations = {f"{m.upper()} {p}": o for p, item in document["paths"].items() for m, o in item.items()}
    public = {"GET /", "GET /console/{name}"}
    for name, operation in operations.items():
        assert "200" in operation["responses"], name
        assert bool(operation.get("security")) == (name not in public), name
    shown = operations["GET /reviews/{review_id}"]["responses"]
    assert shown["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReviewShown"
    }
    assert shown["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert document["components"]["securitySchemes"]["cognito"]["in"] == "header"


def test_the_console_is_served_behind_the_api(context: Context) -> None:
    status, page = call(context, "GET", "/", claims=None)
    assert status == 200 and "<title>aiflows · reviews</title>" in page
    status, script = call(context, "GET", "/console/console.js", claims=None)
    assert status == 200 and "loadQueue" in script
