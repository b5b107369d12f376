"""Each capability's handler against moto and the local model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiflows.registry import capabilities
from aiflows_runtime.errors import InvalidInput
from aiflows_runtime.state import DynamoDBLedger
from localcloud import LocalCloud
from tests.capabilities.conftest import BUS, Context, corpus_files, load_handler

pytestmark = pytest.mark.usefixtures("function_env")

OUTPUT = {name: info.output_model for name, info in capabilities().items()}
ActOutput, ClassifyOutput, ExtractOutput = OUTPUT["act"], OUTPUT["classify"], OUTPUT["extract"]
RetrieveOutput, SummarizeOutput = OUTPUT["retrieve"], OUTPUT["summarize"]

DOCUMENT = {
    "document_id": "inv-7",
    "tenant": "acme",
    "title": "Invoice 7 from Northwind",
    "text": (
        "INVOICE INV-7. Bill to: ACME Corp. Date: 2026-11-02. Payment terms: 30 days. "
        "Amount due: 1,250.00 EUR including VAT. Questions: billing@northwind.example."
    ),
}


def step(correlation_id: str, **extra: Any) -> dict[str, Any]:
    return {"correlation_id": correlation_id, "flow": "document_intake", **extra}


def test_classify_labels_the_document_through_the_model_gateway(cloud: LocalCloud, context: Context) -> None:
    handler = load_handler("classify")
    result = ClassifyOutput.model_validate(handler.lambda_handler(step("c-1", document=DOCUMENT), context))
    assert result.label == "invoice"
    assert result.confidence > 0.5
    assert {"invoice", "amount due"} <= set(result.evidence)
    assert result.model.model_id == "amazon.nova-lite-v1:0"
    assert result.model.prompt_id == "classify/v1"
    assert result.model.cost_usd > 0
    [call] = cloud.model.calls
    assert (call.model_id, call.prompt_id, call.outcome) == ("amazon.nova-lite-v1:0", "classify/v1", "ok")


def test_a_repeated_delivery_is_answered_once_and_charged_once(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    # Given a classify step that already ran
    handler = load_handler("classify")
    event = step("c-2", document={**DOCUMENT, "title": "A title no other test uses"})
    first = handler.lambda_handler(event, context)
    # When Step Functions delivers the same input again
    second = handler.lambda_handler(event, context)
    # Then the stored result comes back: one model call, one ledger line
    assert second == first
    assert len(cloud.model.calls) == 1
    assert len(DynamoDBLedger(state_table, client=cloud.client("dynamodb")).entries("c-2")) == 1


def test_a_label_outside_the_allowed_set_becomes_other(cloud: LocalCloud, context: Context) -> None:
    cloud.model.script("amazon.nova-lite-v1:0", json.dumps({"label": "poem", "confidence": 0.99}))
    handler = load_handler("classify")
    result = handler.lambda_handler(step("c-3", document=DOCUMENT), context)
    assert (result["label"], result["confidence"]) == ("other", 0.0)


def test_an_input_that_breaks_the_contract_is_invalid_input(cloud: LocalCloud, context: Context) -> None:
    handler = load_handler("classify")
    with pytest.raises(InvalidInput, match=r"document\.tenant"):
        handler.lambda_handler(step("c-4", document={"document_id": "x", "text": "t"}), context)
    assert cloud.model.calls == []


def test_extract_returns_fields_with_their_evidence_spans(cloud: LocalCloud, context: Context) -> None:
    handler = load_handler("extract")
    result = ExtractOutput.model_validate(handler.lambda_handler(step("e-1", document=DOCUMENT), context))
    text = DOCUMENT["text"]
    assert result.fields["total"].value == "1,250.00"
    assert result.fields["currency"].value == "EUR"
    assert result.fields["email"].value == "billing@northwind.example"
    for field in result.fields.values():
        span = field.evidence
        assert text[span.start : span.end] == span.text
        assert field.value.lower() in span.text.lower()
    assert result.model.model_id == "anthropic.claude-3-5-haiku-20241022-v1:0"


def test_extract_drops_a_value_the_document_does_not_support(cloud: LocalCloud, context: Context) -> None:
    invented = {"fields": {"total": {"value": "9,999.00", "evidence": "Total: 9,999.00"}}}
    cloud.model.script("anthropic.claude-3-5-haiku-20241022-v1:0", json.dumps(invented))
    handler = load_handler("extract")
    result = handler.lambda_handler(step("e-2", document=DOCUMENT, fields=["total", "date"]), context)
    assert result["fields"] == {}
    assert result["unsupported"] == ["total"]
    assert result["missing"] == ["date"]


def test_summarize_stays_within_its_word_budget(cloud: LocalCloud, context: Context) -> None:
    handler = load_handler("summarize")
    result = SummarizeOutput.model_validate(
        handler.lambda_handler(step("s-1", document=DOCUMENT, max_words=12), context)
    )
    assert 0 < result.words <= 12
    assert len(result.summary.split()) <= 12
    assert result.model.prompt_id == "summarize/v1"


def test_summarize_cuts_an_answer_over_budget(cloud: LocalCloud, context: Context) -> None:
    long = "One two three four five six. Seven eight nine ten eleven twelve thirteen."
    cloud.model.script("amazon.nova-micro-v1:0", json.dumps({"summary": long}))
    handler = load_handler("summarize")
    result = handler.lambda_handler(step("s-2", document=DOCUMENT, max_words=8), context)
    assert result["summary"] == "One two three four five six."
    assert (result["words"], result["truncated"]) == (6, True)


def test_retrieve_ranks_the_corpus_passages_for_a_query(cloud: LocalCloud, context: Context) -> None:
    handler = load_handler("retrieve")
    result = RetrieveOutput.model_validate(
        handler.lambda_handler(step("r-1", query="who approves an invoice above 5,000 EUR", top_k=2), context)
    )
    assert len(result.passages) == 2
    assert result.passages[0].doc_id == "invoice-approval.md"
    assert "second approval from finance" in result.passages[0].text
    assert result.passages[0].score >= result.passages[1].score
    assert result.corpus_size >= len(corpus_files())


def test_act_puts_an_allowlisted_event_once(cloud: LocalCloud, context: Context) -> None:
    # Given a queue that receives everything on the bus
    events, sqs = cloud.client("events"), cloud.client("sqs")
    queue_url = sqs.create_queue(QueueName="act-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="all-actions", EventBusName=BUS, EventPattern=json.dumps({"source": ["aiflows.actions"]})
    )
    events.put_targets(Rule="all-actions", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
    handler = load_handler("act")
    request = step(
        "a-1",
        action="put_event",
        action_id="route-inv-7",
        payload={"detail_type": "document.routed", "detail": {"document_id": "inv-7", "queue": "finance"}},
    )
    # When the action is requested twice
    first = ActOutput.model_validate(handler.lambda_handler(request, context))
    second = ActOutput.model_validate(handler.lambda_handler(request, context))
    # Then exactly one event was put, and both answers name it
    assert first == second
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["detail-type"] == "document.routed"
    assert body["detail"] == {"document_id": "inv-7", "queue": "finance", "action_id": "route-inv-7"}


def test_act_writes_an_allowlisted_record(cloud: LocalCloud, context: Context, state_table: str) -> None:
    handler = load_handler("act")
    request = step(
        "a-2",
        action="write_record",
        action_id="inv-7",
        payload={"record_type": "invoice", "data": {"total": "1250"}},
    )
    result = handler.lambda_handler(request, context)
    item = cloud.client("dynamodb").get_item(
        TableName=state_table, Key={"pk": {"S": result["reference"]}, "sk": {"S": "record"}}
    )["Item"]
    assert json.loads(item["data"]["S"]) == {"total": "1250"}


def test_act_writes_a_record_as_large_as_a_state_may_carry(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    # (found by tests/fuzz: 200 KB of emoji, within a state's 256 KB, were stored ASCII-escaped as
    # 600 KB, past the 400 KB a DynamoDB item holds: an unhandled ValidationException)
    data = {"note": "\U0001f4a9" * 50_000}
    handler = load_handler("act")
    request = step(
        "a-4", action="write_record", action_id="big-1", payload={"record_type": "invoice", "data": data}
    )
    result = handler.lambda_handler(request, context)
    item = cloud.client("dynamodb").get_item(
        TableName=state_table, Key={"pk": {"S": result["reference"]}, "sk": {"S": "record"}}
    )["Item"]
    assert json.loads(item["data"]["S"]) == data


def test_act_refuses_what_the_allowlist_does_not_name(cloud: LocalCloud, context: Context) -> None:
    handler = load_handler("act")
    request = step(
        "a-3", action="put_event", action_id="x", payload={"detail_type": "wire.money", "detail": {}}
    )
    with pytest.raises(Exception, match="not allowed") as raised:
        handler.lambda_handler(request, context)
    assert type(raised.value).__name__ == "ActionNotAllowed"


def review_request(run: str, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "correlation_id": run,
        "flow": "document_intake",
        "task_token": token,
        "subject": {"id": "inv-7", "kind": "document", "tenant": "acme"},
        "proposed_action": {"action": "route"},
        **extra,
    }


def test_request_review_stores_and_announces_once_per_task_token(
    cloud: LocalCloud, context: Context, state_table: str
) -> None:
    from aiflows_runtime.state import DynamoDBReviews

    # Given a queue that receives the review announcements
    events, sqs = cloud.client("events"), cloud.client("sqs")
    queue_url = sqs.create_queue(QueueName="review-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="reviews", EventBusName=BUS, EventPattern=json.dumps({"source": ["aiflows.reviews"]})
    )
    events.put_targets(Rule="reviews", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
    handler = load_handler("request_review")
    # When the same invocation is retried
    first = handler.lambda_handler(review_request("rr-1", "token-a"), context)
    second = handler.lambda_handler(review_request("rr-1", "token-a"), context)
    # Then one review was stored and announced
    assert first == second
    store = DynamoDBReviews(state_table, client=cloud.client("dynamodb"))
    assert [r.review_id for r in store.pending()] == [first["review_id"]]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    # And a reminder (a new token of the same run) replaces it, found by the run's key
    third = handler.lambda_handler(review_request("rr-1", "token-b", reminder=True), context)
    assert store.get(first["review_id"]).status == "EXPIRED"
    assert [r.review_id for r in store.pending()] == [third["review_id"]]
    assert store.count_pending() == 1


def test_an_event_the_bus_refuses_fails_the_step_as_transient() -> None:
    from aiflows_runtime import bus
    from aiflows_runtime.errors import TransientError

    class Refusing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            }

    with pytest.raises(bus.EventNotDelivered, match=r"refused review\.requested.*InternalFailure") as raised:
        bus.put_event(Refusing(), BUS, "aiflows.reviews", "review.requested", {"review_id": "rv-1"})
    assert isinstance(raised.value, TransientError)


def test_a_budget_the_ledger_cannot_hold_is_invalid_input(cloud: LocalCloud, context: Context) -> None:
    # (found by tests/fuzz: budget_usd 1e127 passed the contract, then the ledger's budget hold could
    # not write it: DynamoDB's numbers hold 38 digits below 1e126, and boto3 raised decimal.Overflow)
    handler = load_handler("classify")
    with pytest.raises(InvalidInput, match=r"budget_usd: Input should be less than or equal to 1000000"):
        handler.lambda_handler(step("c-5", document=DOCUMENT, budget_usd=1e127), context)
    assert cloud.model.calls == []
