"""The weaving: what a Task gets when its author did not write it, and that the author always wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiflows.flows import FlowInfo, read_flow
from aiflows.registry import RegistryError, by_binding, capabilities
from aiflows_runtime.contracts import FLOW_FAILED
from aiflows_runtime.manifest import LAMBDA_SERVICE_ERRORS
from infra.contract_check import check_definition, language_problems
from infra.weave import jsonata_path, weave

MANIFEST = """
description = "a probe"
cost_per_run_alarm_usd = 0.01
budget_usd = 0.02
[[triggers]]
source = ["probe"]
detail_type = ["probe.submitted"]
detail = "Document"
"""
# the same flow, started by clients calling Step Functions: no event to claim
API_MANIFEST = MANIFEST.split("[[triggers]]")[0] + 'started_by = "api"\n'


def passing(capability: str = "classify") -> list[str]:
    """What a capability Task's woven Retry names: the errors that park a run when retries run out."""
    return [*LAMBDA_SERVICE_ERRORS, *capabilities()[capability].manifest.task.retry_on]


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
    # And a Catch that parks the run on what its Retry names, and one that fails it on anything else
    assert classify["Catch"] == [
        {"ErrorEquals": passing(), "ResultPath": "$.failure", "Next": "ParkClassify"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ClassifyFailed"},
    ]
    # And the parked run waits on the parked-runs queue with its task token, then runs the step
    # again; abandoned, or after the manifest's park_for_seconds, it takes the failure path
    park = states["ParkClassify"]
    assert park["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    body = park["Parameters"]["MessageBody"]
    assert park["Parameters"]["QueueUrl"] == "${ParkedRuns}"
    assert (body["task_token.$"], body["step"], body["error.$"]) == (
        "$$.Task.Token",
        "Classify",
        "$.failure.Error",
    )
    assert (park["Next"], park["ResultPath"], park["TimeoutSeconds"]) == ("Classify", None, 259200)
    assert park["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.parked", "Next": "ClassifyFailed"}
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
    written = {"Classify": own, "Mine": {"Type": "Fail", "Error": "Mine"}}
    woven = weave(flow(tmp_path, written, API_MANIFEST), by_binding())
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


def test_an_event_triggered_flow_claims_its_event_before_its_first_state(tmp_path: Path) -> None:
    # Given a flow that its triggers start
    woven = weave(flow(tmp_path, {"Classify": classify_task(End=True)}), by_binding())
    states = woven["States"]
    # Then it starts by telling an event from a client's input, and goes on to the author's first
    # state at once when the input is no event
    assert woven["StartAt"] == "StartOnce"
    (not_an_event,) = states["StartOnce"]["Choices"]
    assert not_an_event["Next"] == "Classify"
    assert states["StartOnce"]["Default"] == "ClaimEvent"
    # And an event is claimed in the state table with a condition, where a second delivery ends
    # AlreadyStarted and a claim that cannot be written goes down the failure path
    claim = states["ClaimEvent"]
    assert claim["Resource"] == "arn:aws:states:::dynamodb:putItem"
    assert claim["Arguments"]["TableName"] == "${StateTable}"
    assert claim["Arguments"]["ConditionExpression"] == "attribute_not_exists(pk) OR execution = :mine"
    assert claim["Next"] == "Classify"
    assert [(c["ErrorEquals"], c["Next"]) for c in claim["Catch"]] == [
        (["DynamoDB.ConditionalCheckFailedException"], "AlreadyStarted"),
        (claim["Retry"][0]["ErrorEquals"], "ParkClaimEvent"),
        (["States.ALL"], "ClaimEventFailed"),
    ]
    assert states["AlreadyStarted"]["Type"] == "Succeed"
    assert "ClaimEventFailed" in states and not language_problems(woven)


def test_a_flow_that_clients_start_claims_nothing(tmp_path: Path) -> None:
    woven = weave(flow(tmp_path, {"Classify": classify_task(End=True)}, API_MANIFEST), by_binding())
    assert woven["StartAt"] == "Classify"
    assert not {"StartOnce", "ClaimEvent", "AlreadyStarted"} & set(woven["States"])


def test_a_state_named_like_the_claim_is_refused_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    taken = flow(tmp_path, {"ClaimEvent": classify_task(End=True)})
    with pytest.raises(
        ValueError, match=r"definition.asl.json: states ClaimEvent are the names .* rename yours"
    ):
        weave(taken, by_binding())


def test_no_run_parks_where_the_author_caught_everything_or_parking_is_off(tmp_path: Path) -> None:
    # Given a Task whose author catches everything, and a flow that does not park
    own = classify_task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Mine"}], Next="Other")
    written = {"Classify": own, "Other": classify_task(End=True), "Mine": {"Type": "Fail"}}
    woven = weave(flow(tmp_path, written), by_binding())["States"]
    # Then the author's Catch decides alone, and the other Task parks
    assert "ParkClassify" not in woven and "ParkOther" in woven
    off = weave(flow(tmp_path, written, "park_for_seconds = 0\n" + MANIFEST), by_binding())["States"]
    assert not [name for name in off if name.startswith("Park")]
    # And an Express flow, which cannot wait for a task token, parks nothing
    express = weave(flow(tmp_path, written, 'type = "EXPRESS"\n' + MANIFEST), by_binding())["States"]
    assert not [name for name in express if name.startswith("Park")]


def test_a_state_named_like_a_park_is_refused_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    taken = flow(
        tmp_path, {"Classify": classify_task(Next="ParkClassify"), "ParkClassify": {"Type": "Succeed"}}
    )
    with pytest.raises(
        ValueError, match=r"state ParkClassify is the name of the state woven to park Classify"
    ):
        weave(taken, by_binding())


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
    # And a review never parks: nobody deciding is what its reminders are for
    assert not {"ParkReview", "ParkRemindReview", "ParkEscalateReview"} & set(states)


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
        {"ErrorEquals": passing(), "ResultPath": "$.failure", "Next": "ParkClassify"},
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


def test_a_flows_review_role_is_woven_into_each_request_of_its_review(tmp_path: Path) -> None:
    # Given a manifest whose reviews only an administrator may decide
    woven = weave(
        flow(tmp_path, {"Review": review_task()}, MANIFEST + '[review]\nrole = "admin"\n'), by_binding()
    )
    states = woven["States"]
    # Then the review, its reminder and its escalation each ask for that role
    for step in ("Review", "RemindReview", "EscalateReview"):
        assert states[step]["Parameters"]["Payload"]["role"] == "admin", step
    # And request_review's contract takes it (the contract check reads the woven Payload against it)
    assert not [problem for problem in check_definition(woven, "probe") if "'role'" in problem]
    # And a manifest that names no role weaves none: any reviewer of the run's tenant decides
    plain = weave(flow(tmp_path, {"Review": review_task()}, MANIFEST + "[review]\n"), by_binding())["States"]
    assert not any("role" in plain[step]["Parameters"]["Payload"] for step in ("Review", "RemindReview"))


def test_a_review_role_no_reviewer_can_hold_is_refused_naming_the_roles(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"\[review\]\.role: Input should be 'reviewer' or 'admin'"):
        flow(tmp_path, {"Review": review_task()}, MANIFEST + '[review]\nrole = "boss"\n')


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


# JSONata: the same weaving, in the state's own language

KEEP_FAILURE = "{% $merge([$states.input, {'failure': $states.errorOutput}]) %}"


def jsonata_classify(payload: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {
            "FunctionName": "${ClassifyFunction}",
            "Payload": {"document": "{% $states.input.detail %}"} if payload is None else payload,
        },
        "Output": {"label": "{% $states.result.Payload.label %}"},
        **extra,
    }


def jsonata_flow(tmp_path: Path, states: dict[str, Any], manifest: str = MANIFEST) -> FlowInfo:
    info = flow(tmp_path, states, manifest)
    written = {"QueryLanguage": "JSONata", **json.loads(info.definition_path.read_text())}
    info.definition_path.write_text(json.dumps(written))
    return read_flow(info.folder)


def test_a_jsonata_machine_is_woven_in_jsonata_and_its_failure_path_in_jsonpath(tmp_path: Path) -> None:
    # Given a flow whose machine is JSONata, with one capability Task
    woven = weave(jsonata_flow(tmp_path, {"Classify": jsonata_classify(End=True)}), by_binding())
    states = woven["States"]
    classify = states["Classify"]
    task = capabilities()["classify"].manifest.task
    # Then its Arguments.Payload gets the run's context: the correlation id as an expression
    # ($$. read as $states.context.), the flow and budget as literals, no .$ on any key
    assert classify["Arguments"]["Payload"] == {
        "correlation_id": "{% $states.context.Execution.Input.id %}",
        "flow": "probe",
        "budget_usd": 0.02,
        "document": "{% $states.input.detail %}",
    }
    assert "Parameters" not in classify
    # And its timeout and retry, as a JSONPath Task's
    assert classify["TimeoutSeconds"] == task.timeout_seconds
    assert classify["Retry"][0]["ErrorEquals"] == [*LAMBDA_SERVICE_ERRORS, *task.retry_on]
    # And a Catch that keeps the error the JSONata way, as `failure` beside the state's input
    assert classify["Catch"] == [
        {"ErrorEquals": passing(), "Output": KEEP_FAILURE, "Next": "ParkClassify"},
        {"ErrorEquals": ["States.ALL"], "Output": KEEP_FAILURE, "Next": "ClassifyFailed"},
    ]
    # And since AWS refuses a JSONPath state in a JSONata machine, the machine's language moved
    # onto its states, and every state the weave wrote says JSONPath, but the event's claim,
    # written in JSONata in every flow
    assert "QueryLanguage" not in woven
    assert classify["QueryLanguage"] == "JSONata"
    assert states["ClaimEvent"]["QueryLanguage"] == "JSONata"
    woven_states = set(states) - {"Classify", "ClaimEvent"}
    assert {"ClassifyFailed", "FailureContext", "PublishFailure", "FailureKind", "FlowFailed"} <= woven_states
    assert {states[name]["QueryLanguage"] for name in woven_states} == {"JSONPath"}
    # And the failure path reads the error where the Catch put it, as for a JSONPath state
    failed = states["ClassifyFailed"]["Parameters"]
    assert (failed["error.$"], failed["cause.$"]) == ("$.failure.Error", "$.failure.Cause")
    assert language_problems(woven) == []


def test_a_mixed_machine_weaves_each_state_in_its_own_language(tmp_path: Path) -> None:
    # Given a JSONPath machine whose Classify alone is JSONata, and a correlation id in the event
    manifest = 'correlation_id = "$.detail.id"\n' + MANIFEST
    written = {
        "Classify": jsonata_classify(QueryLanguage="JSONata", Next="Again"),
        "Again": classify_task(End=True),
    }
    woven = weave(flow(tmp_path, written, manifest), by_binding())
    states = woven["States"]
    # Then the JSONata Task reads the correlation id from its input ($. is $states.input.)
    assert states["Classify"]["Arguments"]["Payload"]["correlation_id"] == "{% $states.input.detail.id %}"
    assert states["Classify"]["Catch"][0]["Output"] == KEEP_FAILURE
    # And the JSONPath one as it always has
    assert states["Again"]["Parameters"]["Payload"]["correlation_id.$"] == "$.detail.id"
    assert states["Again"]["Catch"][-1] == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.failure",
        "Next": "AgainFailed",
    }
    # And nothing else changes languages: the machine stays JSONPath, the woven states inherit it
    assert "QueryLanguage" not in states["Again"] and "QueryLanguage" not in states["PublishFailure"]
    assert woven.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert language_problems(woven) == []


def test_a_jsonata_payload_of_one_expression_is_merged_with_the_woven_fields(tmp_path: Path) -> None:
    # Given a JSONata Task whose Payload is one expression, naming the flow itself
    own = "{% {'document': $states.input.detail, 'flow': 'mine'} %}"
    woven = weave(jsonata_flow(tmp_path, {"Classify": jsonata_classify(own, End=True)}), by_binding())
    # Then the woven fields are merged before it: its own come last, and win
    assert woven["States"]["Classify"]["Arguments"]["Payload"] == (
        '{% $merge([{"correlation_id": $states.context.Execution.Input.id, "flow": "probe", '
        "\"budget_usd\": 0.02}, ({'document': $states.input.detail, 'flow': 'mine'})]) %}"
    )


def test_what_a_jsonata_author_writes_wins(tmp_path: Path) -> None:
    own = jsonata_classify(
        {"document": "{% $states.input.detail %}", "correlation_id": "{% $states.input.id %}"},
        Catch=[{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "Mine"}],
        End=True,
    )
    written = {"Classify": own, "Mine": {"Type": "Fail", "Error": "Mine"}}
    classify = weave(jsonata_flow(tmp_path, written), by_binding())["States"]["Classify"]
    assert classify["Arguments"]["Payload"]["correlation_id"] == "{% $states.input.id %}"
    assert classify["Catch"] == own["Catch"]


def test_a_jsonata_review_asks_again_the_jsonata_way(tmp_path: Path) -> None:
    # Given a JSONata machine whose review Task waits for its token
    review = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Arguments": {
            "FunctionName": "${RequestReviewFunction}",
            "Payload": {"task_token": "{% $states.context.Task.Token %}"},
        },
        "End": True,
    }
    states = weave(jsonata_flow(tmp_path, {"Review": review}, MANIFEST + "[review]\n"), by_binding())[
        "States"
    ]
    # Then each ask is JSONata, its timeout caught the JSONata way, to the next ask
    chain = [(n, states[n]["Catch"][0]) for n in ("Review", "RemindReview", "EscalateReview")]
    assert chain == [
        ("Review", {"ErrorEquals": ["States.Timeout"], "Output": KEEP_FAILURE, "Next": "RemindReview"}),
        (
            "RemindReview",
            {"ErrorEquals": ["States.Timeout"], "Output": KEEP_FAILURE, "Next": "EscalateReview"},
        ),
        (
            "EscalateReview",
            {"ErrorEquals": ["States.Timeout"], "Output": KEEP_FAILURE, "Next": "ReviewTimedOut"},
        ),
    ]
    assert states["RemindReview"]["Arguments"]["Payload"]["reminder"] is True
    assert states["EscalateReview"]["Arguments"]["Payload"]["escalation"] is True
    assert {states[n]["QueryLanguage"] for n in ("Review", "RemindReview", "EscalateReview")} == {"JSONata"}
    # And the end of the chain is the failure path's, in JSONPath
    assert states["ReviewTimedOut"]["QueryLanguage"] == "JSONPath"
    assert states["ReviewTimedOut"]["Parameters"]["step"] == "EscalateReview"


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {**classify_task(End=True)},
            r"state Classify is JSONata \(the machine's QueryLanguage\), but has Parameters, a JSONPath "
            r"field: write Arguments",
        ),
        (
            jsonata_classify(ResultPath="$.label", End=True),
            r"state Classify is JSONata .*, but has ResultPath, a JSONPath field: write Output",
        ),
        (
            jsonata_classify({"document.$": "$.detail"}, End=True),
            r"state Classify is JSONata .*, but names Payload.document.\$: JSONata keys take no .\$",
        ),
        (
            jsonata_classify(
                Catch=[{"ErrorEquals": ["X"], "ResultPath": "$.failure", "Next": "ClassifyFailed"}]
            ),
            r"state Classify is JSONata .*, but a Catch has ResultPath",
        ),
        (
            {**classify_task(End=True), "QueryLanguage": "JSONPath"},
            r"state Classify: QueryLanguage JSONPath in a JSONata machine, which AWS refuses",
        ),
    ],
    ids=["parameters", "result-path", "dollar-key", "catch-result-path", "jsonpath-state"],
)
def test_jsonpath_in_a_jsonata_state_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path, state: dict[str, Any], message: str
) -> None:
    info = jsonata_flow(tmp_path, {"Classify": state})
    with pytest.raises(ValueError, match=message) as raised:
        weave(info, by_binding())
    assert str(raised.value).startswith(f"{info.definition_path} breaks the rules of its query languages")


def test_a_jsonata_state_in_a_jsonpath_machine_with_jsonata_fields_elsewhere_is_refused(
    tmp_path: Path,
) -> None:
    # Arguments in a JSONPath state: the author forgot its QueryLanguage
    info = flow(tmp_path, {"Classify": jsonata_classify(End=True)})
    with pytest.raises(ValueError, match=r"is JSONPath \(the machine's QueryLanguage\), but has Arguments"):
        weave(info, by_binding())


def test_a_correlation_path_jsonata_cannot_read_is_refused(tmp_path: Path) -> None:
    info = jsonata_flow(
        tmp_path, {"Classify": jsonata_classify(End=True)}, 'correlation_id = "$.ids[*]"\n' + MANIFEST
    )
    with pytest.raises(
        ValueError, match=r"flow.toml: correlation_id = '\$.ids\[\*\]' cannot be read in a JSONata"
    ):
        weave(info, by_binding())


@pytest.mark.parametrize(
    ("jsonpath", "jsonata"),
    [
        ("$$.Execution.Input.id", "$states.context.Execution.Input.id"),
        ("$.detail.id", "$states.input.detail.id"),
        ("$", "$states.input"),
        ("$.items[0].detail-type", "$states.input.items[0].`detail-type`"),
    ],
)
def test_a_manifest_path_is_translated_for_jsonata(jsonpath: str, jsonata: str) -> None:
    assert jsonata_path(jsonpath) == jsonata


def test_the_states_of_a_jsonata_machines_branches_stay_jsonata(tmp_path: Path) -> None:
    # Given a JSONata machine whose Task sits in a Parallel branch (it inherits the machine's language)
    both = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "Classify", "States": {"Classify": jsonata_classify(End=True)}}],
        "End": True,
    }
    states = weave(jsonata_flow(tmp_path, {"Both": both}), by_binding())["States"]
    inner = states["Both"]["Branches"][0]["States"]["Classify"]
    # Then the branch's Task is JSONata still, and woven as such; the Parallel is caught the JSONata way
    assert inner["QueryLanguage"] == "JSONata"
    assert inner["Arguments"]["Payload"]["flow"] == "probe"
    assert states["Both"]["QueryLanguage"] == "JSONata"
    # (and parks on what the branch's Retry names)
    assert states["Both"]["Catch"] == [
        {"ErrorEquals": passing(), "Output": KEEP_FAILURE, "Next": "ParkBoth"},
        {"ErrorEquals": ["States.ALL"], "Output": KEEP_FAILURE, "Next": "BothFailed"},
    ]


# A Distributed Map: its ItemProcessor runs as child executions, which do not see the run's input


def batch_map(processor_states: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Arguments": {"Bucket": "${ClaimBucket}", "Key": "{% $states.input.manifest_key %}"},
        },
        "ItemSelector": {
            "correlation_id": "{% $states.context.Execution.Input.id %}",
            "detail": "{% $states.context.Map.Item.Value %}",
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": next(iter(processor_states)),
            "States": processor_states,
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Arguments": {
                "Bucket": "${ClaimBucket}",
                "Prefix": "{% 'batches/' & $states.context.Execution.Name %}",
            },
        },
        "ToleratedFailurePercentage": 5,
        "End": True,
        **fields,
    }


def test_a_distributed_maps_children_read_the_correlation_id_from_their_own_input(tmp_path: Path) -> None:
    # Given a JSONata flow whose Distributed Map classifies each claim in an Express child execution
    written = batch_map({"Classify": jsonata_classify(End=True)})
    woven = weave(jsonata_flow(tmp_path, {"Batch": written}), by_binding())
    states = woven["States"]
    inner = states["Batch"]["ItemProcessor"]["States"]
    classify = inner["Classify"]
    task = capabilities()["classify"].manifest.task
    # Then the child's Task reads the correlation id from the child's input (the ItemSelector passed it),
    # not from the run's ($states.context.Execution.Input.id is the item there), and gets flow and budget
    assert classify["Arguments"]["Payload"] == {
        "correlation_id": "{% $states.context.Execution.Input.correlation_id %}",
        "flow": "probe",
        "budget_usd": 0.02,
        "document": "{% $states.input.detail %}",
    }
    # And its timeout and retry, as any capability Task
    assert classify["TimeoutSeconds"] == task.timeout_seconds
    assert classify["Retry"][0]["ErrorEquals"] == [*LAMBDA_SERVICE_ERRORS, *task.retry_on]
    # But no Catch, and no state is added to the processor: a failing child fails, and counts
    # against the Map's ToleratedFailurePercentage; the parent's failure path is out of its reach
    assert "Catch" not in classify
    assert set(inner) == {"Classify"}
    assert "ClassifyFailed" not in states
    # And the Map itself, a top-level state, is caught down the failure path like any other
    assert states["Batch"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "Output": KEEP_FAILURE, "Next": "BatchFailed"}
    ]
    assert states["Batch"]["ToleratedFailurePercentage"] == 5
    assert language_problems(woven) == []


def test_a_batched_distributed_map_passes_the_correlation_id_in_its_batch_input(tmp_path: Path) -> None:
    # Given the same Map, in JSONPath, with an ItemBatcher whose BatchInput carries the correlation id
    processor = {"Classify": classify_task(End=True)}
    processor["Classify"]["Parameters"]["Payload"] = {"document.$": "$.Items[0]"}
    written = {
        "Type": "Map",
        "ItemsPath": "$.detail.claims",
        "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"correlation_id.$": "$$.Execution.Input.id"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Classify",
            "States": processor,
        },
        "End": True,
    }
    states = weave(flow(tmp_path, {"Batch": written}), by_binding())["States"]
    # Then the child's Task reads it from the batch it was given
    payload = states["Batch"]["ItemProcessor"]["States"]["Classify"]["Parameters"]["Payload"]
    assert payload["correlation_id.$"] == "$$.Execution.Input.BatchInput.correlation_id"


def test_an_inline_maps_tasks_keep_the_runs_correlation_id_and_no_catch_of_their_own(tmp_path: Path) -> None:
    # Given an inline Map (its iterations run in the run itself, and see its input)
    written = {
        "Type": "Map",
        "ItemsPath": "$.detail.claims",
        "ItemProcessor": {"StartAt": "Classify", "States": {"Classify": classify_task(End=True)}},
        "End": True,
    }
    states = weave(flow(tmp_path, {"Each": written}), by_binding())["States"]
    classify = states["Each"]["ItemProcessor"]["States"]["Classify"]
    # Then its Task reads the run's correlation id, as before, and is caught by its Map
    assert classify["Parameters"]["Payload"]["correlation_id.$"] == "$$.Execution.Input.id"
    assert "Catch" not in classify
    assert [c["Next"] for c in states["Each"]["Catch"]] == ["ParkEach", "EachFailed"]


@pytest.mark.parametrize("batched", [False, True], ids=["item-selector", "batch-input"])
def test_a_distributed_map_that_does_not_pass_the_correlation_id_is_refused(
    tmp_path: Path, batched: bool
) -> None:
    # Given a Distributed Map whose children need a correlation id, and whose ItemSelector (or
    # ItemBatcher's BatchInput) does not pass one
    fields: dict[str, Any] = {"ItemSelector": {"detail": "{% $states.context.Map.Item.Value %}"}}
    if batched:
        fields["ItemBatcher"] = {"MaxItemsPerBatch": 5, "BatchInput": {"source": "claims"}}
    info = jsonata_flow(tmp_path, {"Batch": batch_map({"Classify": jsonata_classify(End=True)}, **fields)})
    field = "ItemBatcher.BatchInput" if batched else "ItemSelector"
    read = "$$.Execution.Input.BatchInput.correlation_id" if batched else "$$.Execution.Input.correlation_id"
    # When it is woven, then it fails, naming the file, the state and what to write
    with pytest.raises(ValueError) as raised:
        weave(info, by_binding())
    assert str(raised.value) == (
        f"{info.definition_path}: state Batch/Classify runs in a child execution of the Distributed Map "
        "Batch, which does not see the run's input: its woven correlation_id is read from the child's own "
        f"input ({read}), so pass it in Batch's {field}, e.g. "
        '"correlation_id": "{% $states.context.Execution.Input.id %}"; '
        "or pass correlation_id in Batch/Classify's Payload yourself"
    )
    # And a Task that passes its own correlation id needs nothing from the Map
    own = jsonata_classify(
        {"document": "{% $states.input.detail %}", "correlation_id": "{% $states.input.ref %}"}
    )
    fine = jsonata_flow(tmp_path, {"Batch": batch_map({"Classify": {**own, "End": True}}, **fields)})
    inner = weave(fine, by_binding())["States"]["Batch"]["ItemProcessor"]["States"]["Classify"]
    assert inner["Arguments"]["Payload"]["correlation_id"] == "{% $states.input.ref %}"


def test_a_distributed_maps_reader_in_the_other_query_language_is_refused(tmp_path: Path) -> None:
    written = batch_map({"Classify": jsonata_classify(End=True)})
    written["ItemReader"] = {**written["ItemReader"], "Parameters": written["ItemReader"].pop("Arguments")}
    with pytest.raises(ValueError, match=r"state Batch is JSONata .*, but its ItemReader has Parameters"):
        weave(jsonata_flow(tmp_path, {"Batch": written}), by_binding())
