"""The weaving: what a Task gets when its author did not write it, and that the author always wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiflows.flows import FlowInfo, read_flow
from aiflows.registry import by_binding, capabilities
from aiflows_runtime.contracts import FLOW_FAILED
from aiflows_runtime.manifest import LAMBDA_SERVICE_ERRORS
from infra.weave import weave

MANIFEST = """
description = "a probe"
cost_per_run_alarm_usd = 0.01
budget_usd = 0.02
[[triggers]]
source = ["probe"]
detail_type = ["probe.submitted"]
detail = "Document"
"""


def classify_task(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${ClassifyFunction}", "Payload": {"document.$": "$.detail"}},
        **extra,
    }


def flow(tmp_path: Path, states: dict[str, Any], manifest: str = MANIFEST) -> FlowInfo:
    folder = tmp_path / "probe"
    folder.mkdir(exist_ok=True)
    (folder / "flow.toml").write_text(manifest)
    (folder / "definition.asl.json").write_text(json.dumps({"StartAt": next(iter(states)), "States": states}))
    return read_flow(folder)


def test_a_capability_task_gets_its_defaults_and_a_failure_path(tmp_path: Path) -> None:
    # Given a Task that says only what it does
    woven = weave(flow(tmp_path, {"Classify": classify_task(End=True)}), by_binding())
    states = woven["States"]
    task = capabilities()["classify"].manifest.task
    classify = states["Classify"]
    # Then it gets the run's context in its Payload, its capability's timeout and retry, and a Catch
    assert classify["Parameters"]["Payload"] == {
        "correlation_id.$": "$$.Execution.Input.id",
        "flow": "probe",
        "budget_usd": 0.02,
        "document.$": "$.detail",
    }
    assert classify["TimeoutSeconds"] == task.timeout_seconds
    (retry,) = classify["Retry"]
    assert retry["ErrorEquals"] == [*LAMBDA_SERVICE_ERRORS, *task.retry_on]
    assert (retry["JitterStrategy"], retry["MaxDelaySeconds"]) == ("FULL", task.max_delay_seconds)
    assert classify["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ClassifyFailed"}
    ]
    # And the failure path names the step, publishes flow.failed and ends in named Fail states
    assert states["ClassifyFailed"]["Parameters"]["step"] == "Classify"
    entry = states["PublishFailure"]["Parameters"]["Entries"][0]
    assert (entry["DetailType"], entry["EventBusName"]) == (FLOW_FAILED, "${EventBus}")
    assert set(entry["Detail"]) == {"correlation_id.$", "flow", "step.$", "error.$", "cause.$", "tenant.$"}
    ends = {name for name, state in states.items() if state["Type"] == "Fail"}
    assert ends == {"InvalidInput", "BudgetExceeded", "Blocked", "TimedOut", "StepFailed", "FlowFailed"}
    kinds = states["FailureKind"]["Choices"]
    assert kinds[-1] == {"Variable": "$.failed.error", "StringMatches": "States.*", "Next": "StepFailed"}


def test_what_the_author_writes_wins(tmp_path: Path) -> None:
    # Given a Task with its own Retry, Catch, timeout and flow name, and a Fail state of its own
    own = classify_task(
        TimeoutSeconds=5,
        Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Mine"}],
        End=True,
    )
    own["Parameters"]["Payload"]["flow"] = "elsewhere"
    woven = weave(flow(tmp_path, {"Classify": own, "Mine": {"Type": "Fail", "Error": "Mine"}}), by_binding())
    classify = woven["States"]["Classify"]
    # Then all of it is kept as written, and no failure path is woven for a flow that needs none
    assert (classify["TimeoutSeconds"], classify["Retry"], classify["Catch"]) == (
        5,
        own["Retry"],
        own["Catch"],
    )
    assert classify["Parameters"]["Payload"]["flow"] == "elsewhere"
    assert "PublishFailure" not in woven["States"]


def test_failures_may_be_renamed_and_a_catch_to_nowhere_is_refused(tmp_path: Path) -> None:
    renamed = flow(
        tmp_path, {"Classify": classify_task(End=True)}, MANIFEST + '[failures]\nInvalidInput = "Bad"\n'
    )
    assert "Bad" in weave(renamed, by_binding())["States"]
    lost = flow(
        tmp_path, {"Classify": classify_task(Catch=[{"ErrorEquals": ["X"], "Next": "Nowhere"}], End=True)}
    )
    with pytest.raises(ValueError, match=r"a Catch names states the definition does not have: \['Nowhere'\]"):
        weave(lost, by_binding())


def review_task(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": "${RequestReviewFunction}",
            "Payload": {"task_token.$": "$$.Task.Token"},
        },
        "End": True,
        **extra,
    }


def test_a_review_task_asks_again_then_times_out(tmp_path: Path) -> None:
    review = review_task()
    settings = (
        "[review]\nremind_after_seconds = 10\nescalate_after_seconds = 20\ngive_up_after_seconds = 30\n"
    )
    states = weave(flow(tmp_path, {"Review": review}, MANIFEST + settings), by_binding())["States"]
    chain = [
        (n, states[n]["TimeoutSeconds"], states[n]["Catch"][0]["Next"])
        for n in ("Review", "RemindReview", "EscalateReview")
    ]
    assert chain == [
        ("Review", 10, "RemindReview"),
        ("RemindReview", 20, "EscalateReview"),
        ("EscalateReview", 30, "ReviewTimedOut"),
    ]
    assert states["EscalateReview"]["Parameters"]["Payload"]["escalation"] is True
    assert states["RemindReview"]["Parameters"]["Payload"]["reminder"] is True
    assert states["ReviewTimedOut"]["Parameters"]["step"] == "EscalateReview"


def test_a_task_that_puts_events_gets_a_timeout_and_a_retry(tmp_path: Path) -> None:
    publish = {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {
            "Entries": [{"EventBusName": "${EventBus}", "Source": "s", "DetailType": "d", "Detail": {}}]
        },
        "End": True,
    }
    woven = weave(flow(tmp_path, {"Publish": publish}), by_binding())["States"]["Publish"]
    assert woven["TimeoutSeconds"] == 10
    assert woven["Retry"][0]["ErrorEquals"][0] == "EventBridge.EventBridgeException"


def test_an_authors_partial_catch_keeps_its_errors_and_the_rest_takes_the_failure_path(
    tmp_path: Path,
) -> None:
    own = [{"ErrorEquals": ["DuplicateRun"], "Next": "Duplicate"}]
    states = weave(
        flow(tmp_path, {"Classify": classify_task(Catch=own, End=True), "Duplicate": {"Type": "Succeed"}}),
        by_binding(),
    )["States"]
    assert states["Classify"]["Catch"] == [
        *own,
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ClassifyFailed"},
    ]
    assert "PublishFailure" in states


def test_the_failure_event_reads_the_run_only_where_it_is(tmp_path: Path) -> None:
    # A path that is not there would fail the failure path itself (States.Runtime, uncatchable)
    states = weave(flow(tmp_path, {"Classify": classify_task(End=True)}), by_binding())["States"]
    context = states["FailureContext"]
    assert context["Choices"][0]["And"] == [
        {"Variable": "$$.Execution.Input.id", "IsPresent": True},
        {"Variable": "$$.Execution.Input.detail.tenant", "IsPresent": True},
    ]
    assert states["FailureWithoutContext"]["Parameters"]["correlation_id.$"] == "$$.Execution.Name"
    detail = states["PublishFailure"]["Parameters"]["Entries"][0]["Detail"]
    assert detail["correlation_id.$"] == "$.failed.correlation_id"
    assert "EventBridge.FailedEntry" in states["PublishFailure"]["Retry"][0]["ErrorEquals"]


def test_a_review_whose_author_decides_its_timeout_gets_no_reminders(tmp_path: Path) -> None:
    # Given a review whose own Catch says what a timeout leads to
    own = [
        {"ErrorEquals": ["States.Timeout"], "Next": "GiveUp"},
        {"ErrorEquals": ["States.ALL"], "Next": "GiveUp"},
    ]
    written = {"Review": review_task(Catch=own, TimeoutSecondsPath="$.wait"), "GiveUp": {"Type": "Succeed"}}
    states = weave(flow(tmp_path, written, MANIFEST + "[review]\n"), by_binding())["States"]
    # Then nothing unreachable is woven, and its TimeoutSecondsPath stands alone
    assert "RemindReview" not in states and "ReviewTimedOut" not in states
    assert "TimeoutSeconds" not in states["Review"] and states["Review"]["Catch"] == own


def test_a_review_catching_everything_itself_still_gets_a_failure_path_for_its_timeouts(
    tmp_path: Path,
) -> None:
    written = {
        "Review": review_task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Mine"}]),
        "Mine": {"Type": "Fail", "Error": "Mine"},
    }
    states = weave(flow(tmp_path, written, MANIFEST + "[review]\n"), by_binding())["States"]
    assert states["EscalateReview"]["Catch"][0]["Next"] == "ReviewTimedOut"
    assert states["ReviewTimedOut"]["Next"] == "FailureContext" and "FailureContext" in states
