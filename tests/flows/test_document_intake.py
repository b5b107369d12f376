"""document_intake in the local cloud: the synthesized app, its real handlers, its events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=0.01) as running:
        yield running


@pytest.fixture(scope="module")
def app(cloud: LocalCloud, app_assembly: Path) -> Deployment:
    return cloud.deploy(app_assembly)


def run(cloud: LocalCloud, app: Deployment, event_file: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = cloud.client("stepfunctions")
    machine = app.outputs["DocumentIntakeStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    put_event_file(cloud, app, event_file)
    execution = cloud.wait_for_new_execution(app, known, timeout=60)
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    return execution, history


def test_a_submitted_document_is_classified_by_the_real_handler(cloud: LocalCloud, app: Deployment) -> None:
    # Given the app deployed into the local cloud
    # When a document.submitted event is put on the bus
    execution, history = run(cloud, app, EVENTS / "document_submitted.json")
    # Then the flow succeeded with the classify handler's own verdict
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["document_id"] == "inv-2026-0042"
    assert output["classification"]["label"] == "invoice"
    assert {"invoice", "amount due", "vat"} <= set(output["classification"]["evidence"])
    assert output["correlation_id"] == json.loads(execution["input"])["id"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["Classify", "Classified"]


def test_an_invalid_document_fails_in_a_named_state_with_a_clear_error(
    cloud: LocalCloud, app: Deployment
) -> None:
    # When an event breaks the document.submitted contract
    execution, history = run(cloud, app, EVENTS / "document_submitted_invalid.json")
    # Then the flow fails in InvalidDocument, and the cause names each failing field
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidDocument"
    cause = json.loads(execution["cause"])
    assert cause["errorType"] == "InvalidInput"
    for field in ("document.document_id", "document.tenant", "document.text"):
        assert field in cause["errorMessage"]
    # And InvalidInput was not retried: it cannot get better
    assert sum(e["type"] == "TaskFailed" for e in history) == 1
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["Classify", "InvalidDocument"]


def test_the_functions_log_to_their_log_groups_as_json(cloud: LocalCloud, app: Deployment) -> None:
    run(cloud, app, EVENTS / "document_submitted.json")
    function = app.outputs["ClassifyFunctionName"]
    events = cloud.client("logs").filter_log_events(logGroupName=_log_group(cloud, function))["events"]
    records = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
    assert any(r.get("capability") == "classify" and r.get("correlation_id") for r in records)


def _log_group(cloud: LocalCloud, function: str) -> str:
    config = cloud.client("lambda").get_function_configuration(FunctionName=function)
    return config.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{function}"
