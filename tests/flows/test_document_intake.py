"""document_intake in the local cloud: the synthesized app, its real handlers, its events."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from aiflows.flows import bus_events as registered_events
from aiflows.flows import read_sample, write_sample
from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.reviews import AlreadyDecided, DynamoDBReviews, answer_flow
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file
from tests.conftest import drained, execution_of, history, of_type, pending_review

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "statemachines" / "document_intake" / "events"
INVOICE = read_sample(EVENTS / "clear.json")


def submit(cloud: LocalCloud, app: Deployment, detail: dict[str, Any], tmp_path: Path) -> str:
    event = tmp_path / "event.json"
    write_sample({**INVOICE, "Detail": detail}, event)
    return put_event_file(cloud, app, event)


def finished(cloud: LocalCloud, execution: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
    return cloud.wait_for_execution(execution["executionArn"], timeout=timeout)


def entered(cloud: LocalCloud, execution: dict[str, Any]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history(cloud, execution["executionArn"])
        if e["type"].endswith("StateEntered")
    ]


def decide(cloud: LocalCloud, app: Deployment, decision: ReviewDecision) -> None:
    """What the review API does: decide once, then answer the flow's task token."""
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    answer_flow(cloud.client("stepfunctions"), store.decide(decision), decision)


def record(cloud: LocalCloud, app: Deployment, label: str, document_id: str) -> dict[str, Any] | None:
    item = (
        cloud.client("dynamodb")
        .get_item(
            TableName=app.outputs["StateTableName"],
            Key={"pk": {"S": f"record#{label}#{document_id}"}, "sk": {"S": "record"}},
        )
        .get("Item")
    )
    return json.loads(item["data"]["S"]) if item else None


MIXED = (
    "Invoice for the services under the agreement between the parties. "
    "The term of the agreement and its termination follow the governing law. Payment due in 30 days."
)


def test_a_confident_run_acts_without_review_and_announces_it(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]], tmp_path: Path
) -> None:
    # When a clear invoice is submitted
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "auto-1"}, tmp_path)
    execution = finished(cloud, execution_of(cloud, app, event_id, flow="document_intake"))
    # Then it ran every step, without a review, and wrote its record
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    states = entered(cloud, execution)
    assert "Review" not in states
    for step in (
        "Validate",
        "GuardInput",
        "Classify",
        "Analyze",
        "Extract",
        "Summarize",
        "Retrieve",
        "GuardOutput",
        "Act",
        "PublishProcessed",
    ):
        assert step in states
    output = json.loads(execution["output"])
    assert (output["decision"], output["classification"]["label"]) == ("auto", "invoice")
    saved = record(cloud, app, "invoice", "auto-1")
    assert saved is not None and saved["decision"] == "auto"
    assert saved["fields"]["total"]["value"] == "1,250.00"
    # And a document.processed event went out
    [processed] = of_type(drained(cloud, bus_events), "document.processed", event_id)
    assert processed["detail"]["reference"] == "record#invoice#auto-1"
    assert processed["detail"]["subject"] == {"id": "auto-1", "kind": "document"}


def test_a_doubtful_run_waits_for_a_person_who_approves(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]], tmp_path: Path
) -> None:
    # Given a document whose label the models are not sure of
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "review-1", "text": MIXED}, tmp_path)
    execution = execution_of(cloud, app, event_id, flow="document_intake")
    # When the flow asks for a review, and a reviewer approves it
    review_id = pending_review(cloud, app, event_id)
    # request_review stores the review before it puts review.requested: wait for the event too
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not of_type(
        drained(cloud, bus_events), "review.requested", event_id
    ):
        time.sleep(0.2)
    [requested] = of_type(drained(cloud, bus_events), "review.requested", event_id)
    assert requested["detail"]["review_id"] == review_id
    assert "task_token" not in json.dumps(requested)
    decide(cloud, app, ReviewDecision(review_id=review_id, decision="approve", reviewer="ada@example.com"))
    # Then the flow acts and finishes
    done = finished(cloud, execution)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert json.loads(done["output"])["decision"] == "approve"
    assert entered(cloud, done).index("Review") < entered(cloud, done).index("Act")
    # And a second decision changes nothing
    with pytest.raises(AlreadyDecided):
        decide(cloud, app, ReviewDecision(review_id=review_id, decision="reject", reviewer="eve@example.com"))


def test_a_rejected_run_ends_in_rejected_with_the_reason(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]], tmp_path: Path
) -> None:
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "review-2", "text": MIXED}, tmp_path)
    execution = execution_of(cloud, app, event_id, flow="document_intake")
    review_id = pending_review(cloud, app, event_id)
    decide(
        cloud,
        app,
        ReviewDecision(
            review_id=review_id,
            decision="reject",
            reviewer="ada@example.com",
            reason="Not ours: wrong tenant",
        ),
    )
    done = finished(cloud, execution)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Rejected", "Not ours: wrong tenant")
    assert (
        record(cloud, app, "invoice", "review-2") is None
        and record(cloud, app, "contract", "review-2") is None
    )
    [rejected] = of_type(drained(cloud, bus_events), "document.rejected", event_id)
    assert rejected["detail"]["reason"] == "Not ours: wrong tenant"


def test_a_revision_carries_the_reviewers_edits_into_the_action(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "review-3", "text": MIXED}, tmp_path)
    execution = execution_of(cloud, app, event_id, flow="document_intake")
    review_id = pending_review(cloud, app, event_id)
    edits = {"total": "1,300.00"}
    decide(
        cloud,
        app,
        ReviewDecision(review_id=review_id, decision="revise", reviewer="ada@example.com", edits=edits),
    )
    done = finished(cloud, execution)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    label = json.loads(done["output"])["classification"]["label"]
    saved = record(cloud, app, label, "review-3")
    assert saved is not None and (saved["decision"], saved["edits"]) == ("revise", edits)


def test_an_invalid_event_fails_in_a_named_state_and_is_announced(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]]
) -> None:
    event_id = put_event_file(cloud, app, EVENTS / "invalid.json")
    done = finished(cloud, execution_of(cloud, app, event_id, flow="document_intake"))
    assert (done["status"], done["error"]) == ("FAILED", "InvalidDocument")
    cause = json.loads(done["cause"])
    assert cause["errorType"] == "InvalidInput"
    for field in ("document.document_id", "document.tenant", "document.text"):
        assert field in cause["errorMessage"]
    [failed] = of_type(drained(cloud, bus_events), "flow.failed", event_id)
    assert (failed["detail"]["step"], failed["detail"]["error"]) == ("Validate", "InvalidInput")


def test_the_same_event_delivered_twice_gives_one_run_and_one_action(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given a run of an event
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "twice-1"}, tmp_path)
    first = finished(cloud, execution_of(cloud, app, event_id, flow="document_intake"))
    assert first["status"] == "SUCCEEDED"
    # When EventBridge delivers the same event again (at-least-once delivery)
    sfn = cloud.client("stepfunctions")
    again = sfn.start_execution(
        stateMachineArn=app.outputs["DocumentIntakeAliasArn"], name="redelivery-twice-1", input=first["input"]
    )
    second = cloud.wait_for_execution(again["executionArn"])
    # Then the second execution finds the event claimed and stops at once, and there is one record
    assert second["status"] == "SUCCEEDED"
    assert entered(cloud, second) == ["StartOnce", "ClaimEvent", "AlreadyStarted"]
    assert record(cloud, app, "invoice", "twice-1") is not None


def test_the_express_flow_answers_synchronously(cloud: LocalCloud, app: Deployment) -> None:
    # When a client asks classify_extract for a quick answer
    answer = cloud.client("stepfunctions").start_sync_execution(
        stateMachineArn=app.outputs["ClassifyExtractStateMachineArn"],
        input=json.dumps(
            {"correlation_id": "sync-1", "document": {**INVOICE["Detail"], "document_id": "sync-1"}}
        ),
    )
    # Then the label and the fields come back in the response itself
    assert answer["status"] == "SUCCEEDED", answer.get("cause")
    output = json.loads(answer["output"])
    assert output["classification"]["label"] == "invoice"
    assert output["extraction"]["fields"]["currency"]["value"] == "EUR"
    assert answer["billingDetails"]["billedDurationInMilliseconds"] >= 100


def test_a_deploy_is_rolled_back_by_pointing_the_alias_back(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given the live alias on the deployed version, and a new version that breaks every run
    sfn = cloud.client("stepfunctions")
    machine = app.outputs["DocumentIntakeStateMachineArn"]
    alias = app.outputs["DocumentIntakeAliasArn"]
    good = app.outputs["DocumentIntakeVersionArn"]
    assert (
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"][0][
            "stateMachineVersionArn"
        ]
        == good
    )
    broken = {
        "StartAt": "Broken",
        "States": {"Broken": {"Type": "Fail", "Error": "BadDeploy", "Cause": "oops"}},
    }
    bad = sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(broken), publish=True)[
        "stateMachineVersionArn"
    ]
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": bad, "weight": 100}]
    )
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "rollback-1"}, tmp_path)
    assert finished(cloud, execution_of(cloud, app, event_id, flow="document_intake"))["error"] == "BadDeploy"
    # When the alias is pointed back at the previous version
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": good, "weight": 100}]
    )
    # Then new events run the previous definition again
    event_id = submit(cloud, app, {**INVOICE["Detail"], "document_id": "rollback-2"}, tmp_path)
    assert (
        finished(cloud, execution_of(cloud, app, event_id, flow="document_intake"))["status"] == "SUCCEEDED"
    )


def test_every_event_on_the_bus_has_the_documented_shape(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]]
) -> None:
    seen = drained(cloud, bus_events)
    assert {e["detail-type"] for e in seen} >= {
        "document.processed",
        "flow.failed",
        "document.rejected",
        "review.requested",
    }
    for event in seen:
        source, contract, _ = registered_events()[event["detail-type"]]
        assert event["source"] == source
        contract.model_validate(event["detail"])
