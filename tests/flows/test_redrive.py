"""Taking runs of a shipped flow, document_intake, on after a model outage: parked, and redriven.

The summarize models are made to time out, then to throttle (the local model, scripted). A run
whose Summarize kept failing until its Retry gave up parks (docs/flows.md#parked-runs): resumed
once the models are back, its Analyze runs again and the steps before it (Start, Validate,
Intake, GuardInput, Guarded, Classify) do not. Abandoned instead, it goes through its failure path
to FlowFailed: a redrive would run FlowFailed alone, so the redrive command leaves it alone; what
Step Functions does with it anyway is shown too. A run whose Summarize was still failing when the
on-call person stopped it is redriven, and goes on from there: in its Analyze Parallel only the
Summarize branch runs again (Extract and Retrieve had finished). Last, the parked-runs and redrive
runbooks' own commands, as written.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiflows import ops
from aiflows.flows import write_sample
from aiflows.registry import capabilities
from aiflows_runtime.policies import routing_policy
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file
from localcloud.model import Throttle, Timeout
from tests.conftest import drained, execution_of, of_type
from tests.flows.test_runbooks import INVOICE, output_of, run_page

# Timeouts keep a 30 s floor: the handlers run at real speed on a busy machine (localcloud/timescale.py)
LOCAL_CLOUD = {"time_scale": 0.01, "timeout_floor": 30.0}
FLOW = "document_intake"
FINISHED_BEFORE_ANALYZE = [
    "StartOnce",
    "ClaimEvent",
    "Start",
    "Validate",
    "Intake",
    "GuardInput",
    "Guarded",
    "Classify",
]
FINISHED_BRANCHES = ["Extract", "Retrieve", "SummaryRoute"]
DOWN = "summarize"  # the capability whose models are down


@pytest.fixture(autouse=True)
def models_back(cloud: LocalCloud, app: Deployment) -> Iterator[None]:
    """After each test the outage is over: no scripted fault left, every breaker closed."""
    yield
    cloud.model.reset()
    close_breakers(cloud, app)


def close_breakers(cloud: LocalCloud, app: Deployment) -> None:
    """What breaker-open.md does once the models answer again."""
    routes = [capabilities()[name].route_models for name in ("classify", "extract", DOWN)]
    for model in sorted({model for route in routes for model in route}):
        ops.close_breaker(cloud.client, app.stack_name, model)


def submit(cloud: LocalCloud, app: Deployment, tmp_path: Path, name: str) -> str:
    """A document of its own (classify caches its answers by text); the run's event id."""
    event = tmp_path / f"{name}.json"
    detail = {**INVOICE["Detail"], "document_id": name, "text": f"{INVOICE['Detail']['text']} Ref {name}."}
    write_sample({**INVOICE, "Detail": detail}, event)
    return put_event_file(cloud, app, event)


def history(cloud: LocalCloud, arn: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def split_at_redrive(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    [mark] = [i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven"]
    return events[:mark], events[mark + 1 :]


def invocations(cloud: LocalCloud, app: Deployment, capability: str) -> int:
    """How many times a capability's function ran to its end (the local cloud's invocation records:
    its log group has no REPORT records, as Lambda writes none at the system log level WARN)."""
    function = app.outputs[f"{capability.capitalize()}FunctionName"]
    assert cloud.lambdas is not None
    return sum(1 for record in list(cloud.lambdas.records) if record.function == function)


def exited(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e]


def stopped_during_outage(cloud: LocalCloud, app: Deployment, tmp_path: Path, name: str) -> tuple[str, str]:
    """A run stopped while Summarize was failing on the models' timeouts: (event id, execution ARN).

    Every call of summarize's route times out (two seconds each, then ModelTimeoutException); once
    the Analyze branches that do not need those models have finished, the on-call person stops the
    run, so that it does not go on to its failure path; the attempt in flight ends, then the models
    come back.
    """
    calls = len(capabilities()[DOWN].route_models) * routing_policy().gateway.attempts_per_model
    cloud.model.script(DOWN, *[Timeout(2.0)] * calls)
    reported = invocations(cloud, app, DOWN)
    event_id = submit(cloud, app, tmp_path, name)
    arn = str(execution_of(cloud, app, event_id, flow=FLOW)["executionArn"])
    deadline = time.monotonic() + 90
    while not (
        set(FINISHED_BRANCHES) <= set(exited(history(cloud, arn)))
        and any(c.outcome == "timeout" for c in cloud.model.calls if c.prompt_id.startswith(DOWN))
    ):
        status = cloud.client("stepfunctions").describe_execution(executionArn=arn)["status"]
        assert status == "RUNNING" and time.monotonic() < deadline, (
            f"{status} before Summarize waited on its model: {entered(history(cloud, arn))}"
        )
        time.sleep(0.05)
    cloud.client("stepfunctions").stop_execution(
        executionArn=arn, error="ModelOutage", cause="summarize is down"
    )
    stopped = cloud.wait_for_execution(arn, timeout=90)
    assert stopped["status"] == "ABORTED", stopped
    while invocations(cloud, app, DOWN) <= reported:  # the attempt in flight, ended
        assert time.monotonic() < deadline + 60, "the Summarize attempt in flight never ended"
        time.sleep(0.1)
    cloud.model.reset()  # the models are back
    return event_id, arn


def parked_after_retries(cloud: LocalCloud, app: Deployment, tmp_path: Path, name: str) -> tuple[str, str]:
    """A run whose Summarize kept failing until its Retry gave up: it parks at ParkAnalyze."""
    cloud.model.script(DOWN, *[Throttle()] * 80)
    event_id = submit(cloud, app, tmp_path, name)
    arn = str(execution_of(cloud, app, event_id, flow=FLOW)["executionArn"])
    deadline = time.monotonic() + 120
    while arn not in {run.execution_arn for run in ops.parked_runs(cloud.client, app.stack_name)}:
        status = cloud.client("stepfunctions").describe_execution(executionArn=arn)["status"]
        assert status == "RUNNING" and time.monotonic() < deadline, (
            f"{status}: {entered(history(cloud, arn))}"
        )
        time.sleep(0.2)
    cloud.model.reset()
    return event_id, arn


def caught_after_retries(cloud: LocalCloud, app: Deployment, tmp_path: Path, name: str) -> tuple[str, str]:
    """A run that parked after its retries, then was abandoned: its failure path took it to FlowFailed."""
    event_id, arn = parked_after_retries(cloud, app, tmp_path, name)
    [abandoned] = ops.unpark(cloud.client, app.stack_name, resume=False, executions=[arn])
    assert abandoned.outcome == "abandoned", abandoned
    done = cloud.wait_for_execution(arn, timeout=120)
    assert (done["status"], done.get("error")) == ("FAILED", "ModelUnavailable"), done
    path = entered(history(cloud, arn))
    assert "AnalyzeFailed" in path and path[-1] == "FlowFailed", path  # its failure path, to its end
    cloud.model.reset()
    return event_id, arn


def test_a_run_parked_on_an_outage_is_resumed_and_its_finished_steps_do_not_run_again(
    cloud: LocalCloud, app: Deployment, tmp_path: Path, bus_events: list[dict[str, Any]]
) -> None:
    # Given a run whose Summarize kept failing past its Retry, parked; and the models back
    event_id, arn = parked_after_retries(cloud, app, tmp_path, "park-outage-1")
    close_breakers(cloud, app)
    [parked] = [
        run for run in ops.parked_runs(cloud.client, app.stack_name, FLOW) if run.execution_arn == arn
    ]
    assert (parked.step, parked.error) == ("Analyze", "ModelUnavailable"), parked
    # When the on-call person resumes it
    [resumed] = ops.unpark(cloud.client, app.stack_name, resume=True, executions=[arn])
    assert resumed.outcome == "resumed"
    # Then it runs Analyze again and succeeds, and nothing is parked any more
    done = cloud.wait_for_execution(arn, timeout=120)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    path = entered(history(cloud, arn))
    assert path.count("ParkAnalyze") == 1 and path[path.index("ParkAnalyze") + 1] == "Analyze", path
    assert arn not in {run.execution_arn for run in ops.parked_runs(cloud.client, app.stack_name)}
    # And the steps it had finished before it parked ran once
    assert [path.count(step) for step in FINISHED_BEFORE_ANALYZE] == [1] * len(FINISHED_BEFORE_ANALYZE)
    # And its outcome was announced once, and no failure was
    seen = drained(cloud, bus_events)
    assert len(of_type(seen, "document.processed", event_id)) == 1
    assert of_type(seen, "flow.failed", event_id) == []


def test_the_parked_runs_runbook_lists_resumes_and_abandons(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given one run parked in the outage, to resume once it is over, and one to abandon
    event_id, resume = parked_after_retries(cloud, app, tmp_path, "park-page-1")
    _, abandon = parked_after_retries(cloud, app, tmp_path, "park-page-2")
    close_breakers(cloud, app)
    # When the on-call person follows the page
    outputs = run_page(cloud, "parked-runs.md", **{"correlation-id": event_id, "execution-arn": abandon})
    # Then both were listed with their step and error
    first_look = output_of(outputs, "python -m aiflows runs parked")
    assert f"execution {resume}" in first_look and f"execution {abandon}" in first_look
    assert "document_intake at step Analyze: ModelUnavailable" in first_look
    # And the one abandoned went down its failure path, with the error that parked it
    assert f"{abandon}\n    abandoned (parked at step Analyze)" in output_of(
        outputs, "python -m aiflows runs abandon"
    )
    ended = cloud.wait_for_execution(abandon, timeout=120)
    assert (ended["status"], ended["error"]) == ("FAILED", "ModelUnavailable")
    # And the other was resumed and succeeded, and none is left parked
    assert f"{resume}\n    resumed (parked at step Analyze)" in output_of(
        outputs, "python -m aiflows runs resume"
    )
    assert cloud.wait_for_execution(resume, timeout=120)["status"] == "SUCCEEDED"
    assert "0 run(s) parked" in output_of(outputs, "python -m aiflows runs parked", which=1)
    assert abandon in output_of(outputs, "python -m aiflows runs failed")


def test_a_run_stopped_at_its_failing_step_is_redriven_and_its_finished_steps_do_not_run_again(
    cloud: LocalCloud, app: Deployment, tmp_path: Path, bus_events: list[dict[str, Any]]
) -> None:
    # Given a run stopped while Summarize failed on the models' timeouts, and the models back
    event_id, arn = stopped_during_outage(cloud, app, tmp_path, "redrive-outage-1")
    # When it is redriven with the operations command's function
    failed = ops.failed_runs(cloud.client, app.stack_name, FLOW, _hour_ago())
    [listed] = [run for run in failed if run.execution_arn == arn]
    assert listed.redrivable and listed.redrive_note.startswith("restarts at Analyze, Summarize"), listed
    redriven = ops.redrive_run(cloud.client, arn)
    assert redriven.outcome == "redriven" and redriven.redrive_date is not None
    # Then the run goes on from Analyze's Summarize branch and succeeds, under the same ARN
    done = cloud.wait_for_execution(arn, timeout=120)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert done["redriveCount"] == 1
    first, second = split_at_redrive(history(cloud, arn))
    again = entered(second)
    assert again[:2] == ["Analyze", "Summarize"] and again[-1] == "Processed", again
    # And the steps it had finished did not run again: each entered once, in the first attempt
    assert not set(FINISHED_BEFORE_ANALYZE + FINISHED_BRANCHES) & set(again), again
    finished = FINISHED_BEFORE_ANALYZE + FINISHED_BRANCHES
    assert [entered(first).count(step) for step in finished] == [1] * len(finished)
    # And its outcome was announced once, and no failure was
    seen = drained(cloud, bus_events)
    assert len(of_type(seen, "document.processed", event_id)) == 1
    assert of_type(seen, "flow.failed", event_id) == []


def test_a_run_whose_failure_was_caught_is_left_alone_as_a_redrive_would_only_fail_it_again(
    cloud: LocalCloud, app: Deployment, tmp_path: Path, bus_events: list[dict[str, Any]]
) -> None:
    # Given a run whose Summarize failed past its Retry: the woven Catch led it to FlowFailed
    event_id, arn = caught_after_retries(cloud, app, tmp_path, "redrive-caught-1")
    # When someone asks to redrive it, Then the command refuses, and says why and what to do
    with pytest.raises(ops.OpsError) as refused:
        ops.redrive_run(cloud.client, arn)
    message = str(refused.value)
    assert "it ended in its Fail state FlowFailed" in message and "submit the document again" in message
    sfn = cloud.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 0
    # And that is what Step Functions does when asked anyway: Analyze had exited through its
    # Catch, so only FlowFailed runs again, and it fails again; no step and no event is repeated
    failures = len(of_type(drained(cloud, bus_events), "flow.failed", event_id))
    sfn.redrive_execution(executionArn=arn)
    done = cloud.wait_for_execution(arn, timeout=60)
    assert (done["status"], done["redriveCount"]) == ("FAILED", 1)
    _, second = split_at_redrive(history(cloud, arn))
    assert entered(second) == ["FlowFailed"]
    time.sleep(0.5)
    assert len(of_type(drained(cloud, bus_events), "flow.failed", event_id)) == failures == 1


def test_the_redrive_runbook_takes_on_the_stopped_run_and_leaves_the_caught_one(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given a run stopped during the outage, and one that went through its failure path
    event_id, stopped = stopped_during_outage(cloud, app, tmp_path, "redrive-page-1")
    _, caught = caught_after_retries(cloud, app, tmp_path, "redrive-page-2")
    close_breakers(cloud, app)  # the outage is over (breaker-open.md)
    # When the on-call person follows the page
    outputs = run_page(cloud, "redrive.md", **{"execution-arn": stopped, "correlation-id": event_id})
    # Then the dry run says what a redrive would do with each, and redrives nothing
    dry = output_of(outputs, "python -m aiflows runs redrive --flow")
    assert f"{stopped}\n    would be redriven: restarts at Analyze, Summarize" in dry
    assert f"{caught}\n    not redriven: it ended in its Fail state FlowFailed" in dry
    # And the stopped run is redriven by its ARN, and the window's redrive leaves the caught one
    assert f"{stopped}\n    redriven: restarts at Analyze, Summarize" in output_of(
        outputs, "python -m aiflows runs redrive <execution-arn>"
    )
    window = output_of(outputs, "python -m aiflows runs redrive --flow", which=1)
    assert f"{caught}\n    not redriven: it ended in its Fail state FlowFailed" in window
    assert stopped not in window  # no longer failed: redriven, running or done
    assert cloud.wait_for_execution(stopped, timeout=120)["status"] == "SUCCEEDED"
    # And after it the failed runs are the ones left to submit again
    still_failed = output_of(outputs, "python -m aiflows runs failed", which=1)
    assert caught in still_failed and stopped not in still_failed
    assert "summarize" in output_of(outputs, "python -m aiflows logs")


def _hour_ago() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
