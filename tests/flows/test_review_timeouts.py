"""A review nobody answers is reminded, then escalated, then the run ends in a named state."""

from __future__ import annotations

import json
from pathlib import Path

from aiflows.flows import read_sample
from aiflows_runtime.reviews import DynamoDBReviews
from localcloud import Deployment, LocalCloud

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "statemachines" / "document_intake" / "events"  # the flow's sample events
DOUBTFUL = read_sample(SAMPLES / "review.json")
# Half a day of waiting in two seconds (3 s, the floor that keeps real work's timeouts
# sane); the escalation's two days in nine; the run's own week in thirty.
LOCAL_CLOUD = {"time_scale": 0.00005, "timeout_floor": 3.0}


def test_an_unanswered_review_is_escalated_then_times_out(cloud: LocalCloud, app: Deployment) -> None:
    # Given a doubtful document, and no reviewer at all
    event = {
        "version": "0",
        "id": "lonely-1",
        "detail-type": "document.submitted",
        "source": "aiflows.documents",
        "account": cloud.account,
        "time": "2026-11-24T00:00:00Z",
        "region": cloud.region,
        "resources": [],
        "detail": DOUBTFUL["Detail"],
    }
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=app.outputs["DocumentIntakeAliasArn"], name="lonely-1", input=json.dumps(event)
    )["executionArn"]
    # When the review, its reminder and its escalation wait out their TimeoutSeconds
    done = cloud.wait_for_execution(arn, timeout=60)
    # Then the run ends in TimedOut, naming the step that waited last
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "TimedOut", "EscalateReview")
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered[-7:] == [
        "EscalateReview",
        "ReviewTimedOut",
        "FailureContext",
        "FailureOfRun",
        "PublishFailure",
        "FailureKind",
        "TimedOut",
    ]
    assert entered.index("Review") < entered.index("RemindReview") < entered.index("EscalateReview")
    # And each request withdrew the one before: only the escalation is still pending
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    mine = [r for r in store.pending() if r.details["correlation_id"] == "lonely-1"]
    assert [(r.details["step"], r.details["escalation"]) for r in mine] == [("EscalateReview", True)]
