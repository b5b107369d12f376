"""The runbooks, run: each page's commands against the local cloud, in the situation it is for.

Each test brings about what its alarm watches (a failed run, an expensive run, a message
in a dead-letter queue, an open breaker), then runs every ``$ `` command of the page as
a person would (``python -m aiflows …`` with ``AWS_ENDPOINT_URL`` at the local cloud),
and checks that the commands show the situation and that the page's fix repairs it.
A second part checks the wire between the functions and the alarms: every custom metric
an alarm or a dashboard reads is emitted, as EMF, with exactly the alarm's dimensions.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aiflows.flows import flows, read_sample, write_sample
from aiflows.registry import capabilities
from aiflows_runtime.policies import routing_policy
from aiflows_runtime.state import CircuitBreaker, DynamoDBBreakerStore, DynamoDBLedger
from infra.constructs.monitoring import NAMESPACE, RUNBOOK_LIST
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file
from localcloud.model import Throttle
from tests.conftest import execution_of, pending_review

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
EVENTS = ROOT / "statemachines" / "document_intake" / "events"
INVOICE = read_sample(EVENTS / "clear.json")
# Fast enough that the work queue's visibility timeout (6 x 900 s) passes in seconds.
LOCAL_CLOUD = {"time_scale": 0.001}
_BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def commands(page: str) -> list[str]:
    """Every ``$ `` command of a runbook, in page order."""
    text = (RUNBOOKS / page).read_text()
    return [
        line[2:].strip()
        for block in _BLOCK.findall(text)
        for line in block.splitlines()
        if line.startswith("$ ")
    ]


def run(cloud: LocalCloud, command: str, **values: str) -> str:
    """Run one runbook command as written, its placeholders filled; it must succeed."""
    for name, value in values.items():
        command = command.replace(f"<{name}>", value)
    assert "<" not in command, f"a placeholder is left in {command!r}"
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "aiflows"], f"runbooks run the project's CLI: {command!r}"
    done = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        env={**os.environ, "AWS_ENDPOINT_URL": cloud.endpoint},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def run_page(cloud: LocalCloud, page: str, **values: str) -> list[tuple[str, str]]:
    """Run the page's commands in order: (command, what it printed) for each."""
    return [(command, run(cloud, command, **values)) for command in commands(page)]


def output_of(outputs: list[tuple[str, str]], prefix: str, which: int = 0) -> str:
    """What the page's first (or ``which``-th) command starting with ``prefix`` printed."""
    return [out for command, out in outputs if command.startswith(prefix)][which]


def submit(cloud: LocalCloud, app: Deployment, tmp_path: Path, **detail: Any) -> str:
    event = tmp_path / "event.json"
    write_sample({**INVOICE, "Detail": {**INVOICE["Detail"], **detail}}, event)
    return put_event_file(cloud, app, event)


def finished(cloud: LocalCloud, app: Deployment, event_id: str) -> dict[str, Any]:
    return cloud.wait_for_execution(
        execution_of(cloud, app, event_id, flow="document_intake")["executionArn"], timeout=90
    )


def emf_records(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every EMF record the functions printed: what CloudWatch turns into metrics on AWS."""
    logs = cloud.client("logs")
    records = []
    for group in logs.describe_log_groups()["logGroups"]:
        for event in logs.filter_log_events(logGroupName=group["logGroupName"], filterPattern='"_aws"')[
            "events"
        ]:
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(record, dict) and "_aws" in record:
                records.append(record)
    return records


def emitted(records: list[dict[str, Any]], name: str, dimensions: dict[str, str]) -> list[float]:
    """The values of one metric whose record has exactly these dimensions."""
    values = []
    for record in records:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            names = {metric["Name"] for metric in directive["Metrics"]}
            for dimension_set in directive["Dimensions"]:
                if (
                    directive["Namespace"] == NAMESPACE
                    and name in names
                    and set(dimension_set) == set(dimensions)
                    and all(record.get(k) == v for k, v in dimensions.items())
                ):
                    value = record[name]
                    values.extend(value if isinstance(value, list) else [value])
    return values


# --- the pages --------------------------------------------------------------------
def test_every_alarm_names_a_runbook_that_exists_and_runs_commands(
    app: Deployment, cloud: LocalCloud
) -> None:
    # Given the alarms the local cloud deployed from the template
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{app.stack_name}-")["MetricAlarms"]
    # two per flow, one per dead-letter queue, one for breakers, one for parked runs
    assert len(alarms) == 2 * len(flows()) + 4
    for alarm in alarms:
        # Then each description ends with a runbook of docs/runbooks that has commands to run
        link = alarm["AlarmDescription"].rsplit("Runbook: ", 1)[1]
        assert link.startswith("docs/runbooks/"), alarm["AlarmName"]
        page = link.removeprefix("docs/runbooks/")
        assert (RUNBOOKS / page).is_file(), link
        assert commands(page), f"{page} has no command to run"
        assert alarm["AlarmActions"] == alarm["OKActions"] == [app.outputs["AlertsTopicArn"]]
    procedures = {"README.md", "redrive.md"}  # the index, and a page the alarms' pages point to
    assert {r.file for r in RUNBOOK_LIST} == {p.name for p in RUNBOOKS.glob("*.md")} - procedures


def test_failed_runs_runbook_finds_the_run_its_step_and_its_reason(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given a run that failed: its document has no text and no tenant
    event_id = put_event_file(cloud, app, EVENTS / "invalid.json")
    assert finished(cloud, app, event_id)["status"] == "FAILED"
    cloud.flush_traces()
    # When the on-call person follows the page
    outputs = run_page(cloud, "failed-runs.md", **{"correlation-id": event_id})
    # Then the alarm list points to the page, and the failed run is listed with its step and reason
    assert "runbook: docs/runbooks/failed-runs.md" in output_of(outputs, "python -m aiflows alarms")
    failed = output_of(outputs, "python -m aiflows runs failed")
    line = next(line for line in failed.splitlines() if "InvalidDocument" in line)
    assert "at step Validate" in line
    assert f"correlation id {event_id}" in failed
    assert "InvalidInput: ValidateInput rejected the input: document.document_id" in failed
    # And the run's log names the function and the error, and its trace shows the step
    logs = output_of(outputs, "python -m aiflows logs")
    assert re.search(r"validate\s+ERROR\s+step failed\s+\[InvalidInput\]", logs), logs
    assert "Validate" in output_of(outputs, "python -m aiflows trace")


def test_cost_runbook_shows_the_costly_run_and_where_its_money_went(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given a run that paid for model calls
    event_id = submit(cloud, app, tmp_path, document_id="cost-1")
    assert finished(cloud, app, event_id)["status"] == "SUCCEEDED"
    cloud.flush_traces()
    total = DynamoDBLedger(app.outputs["StateTableName"], client=cloud.client("dynamodb")).total(event_id)
    assert total.cost_usd > 0
    # When the on-call person follows the page
    outputs = run_page(cloud, "cost-per-run.md", **{"correlation-id": event_id})
    # Then the run is listed with its ledger's total
    costs = output_of(outputs, "python -m aiflows runs cost")
    assert re.search(rf"{event_id}\s+SUCCEEDED\s+{total.calls}\s+\S+\s+{total.cost_usd:.6f}", costs), costs
    # And its spend is split by capability and model, adding up to the total
    spend = output_of(outputs, "python -m aiflows runs spend")
    dollars = [float(d) for d in re.findall(r"\$(\d+\.\d+)", spend)]
    assert {"classify", "extract", "summarize"} <= {line.split()[0] for line in spend.splitlines()}
    assert sum(dollars) == pytest.approx(total.cost_usd, abs=1e-5)
    # And what the cost alarm divides is emitted per model call, with the alarm's dimensions
    paid = emitted(emf_records(cloud), "FlowCostUSD", {"flow": "document_intake", "service": "aiflows"})
    assert sum(paid) >= total.cost_usd - 1e-9


def _dead_letters(cloud: LocalCloud, url: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_dlq_runbook_shows_failed_work_and_sends_it_back(cloud: LocalCloud, app: Deployment) -> None:
    # Given a work item the worker cannot read (no document, no task token to report to)
    sqs = cloud.client("sqs")
    dlq = app.outputs["WorkDeadLetterQueueUrl"]
    sqs.send_message(
        QueueUrl=app.outputs["WorkQueueUrl"],
        MessageBody=json.dumps({"correlation_id": "poison-1", "flow": "document_intake"}),
    )
    # When the worker has failed it three times, the queue's redrive policy parks it
    deadline = time.monotonic() + 90
    while _dead_letters(cloud, dlq) == 0:
        assert time.monotonic() < deadline, "the message never reached the work DLQ"
        time.sleep(0.5)
    failures_before = len(worker_failures(cloud, app, "poison-1"))
    assert failures_before >= 3  # maxReceiveCount
    # Then the page shows it, with its run, and the worker's log says what failed
    outputs = run_page(cloud, "dlq-not-empty.md", queue="work", **{"correlation-id": "poison-1"})
    listed = output_of(outputs, "python -m aiflows dlq list")
    assert "1 message(s) in the work dead-letter queue" in listed
    assert "run poison-1 (document_intake)" in listed
    assert re.search(
        r"worker\s+ERROR\s+work item failed\s+\[InvalidInput\]", output_of(outputs, "python -m aiflows logs")
    )
    # And the redrive sent it back to the work queue, where the worker took it again
    assert "1 message(s) sent back from the work dead-letter queue" in output_of(
        outputs, "python -m aiflows dlq redrive"
    )
    deadline = time.monotonic() + 60
    while len(worker_failures(cloud, app, "poison-1")) <= failures_before:
        assert time.monotonic() < deadline, "the redriven message never reached the worker"
        time.sleep(0.2)


def worker_failures(cloud: LocalCloud, app: Deployment, correlation_id: str) -> list[dict[str, Any]]:
    group = cloud.client("lambda").get_function_configuration(FunctionName=app.outputs["WorkerFunctionName"])[
        "LoggingConfig"
    ]["LogGroup"]
    events = cloud.client("logs").filter_log_events(logGroupName=group, filterPattern=f'"{correlation_id}"')
    return [e for e in events["events"] if '"work item failed"' in e["message"]]


def test_dlq_runbook_redrives_an_undelivered_event_into_a_run(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given a document.submitted event that EventBridge could not deliver to the flow
    event = {
        "version": "0",
        "id": "undelivered-1",
        "detail-type": INVOICE["DetailType"],
        "source": INVOICE["Source"],
        "account": cloud.account,
        "time": "2026-11-24T10:00:00Z",
        "region": cloud.region,
        "resources": [],
        "detail": {**INVOICE["Detail"], "document_id": "undelivered-1"},
    }
    cloud.client("sqs").send_message(
        QueueUrl=app.outputs["EventTargetDeadLetterQueueUrl"],
        MessageBody=json.dumps(event),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Not authorized to start the flow"},
        },
    )
    sfn = cloud.client("stepfunctions")
    machine = app.outputs["DocumentIntakeStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    # When the on-call person follows the page for that queue
    outputs = run_page(
        cloud, "dlq-not-empty.md", queue="event-targets", **{"correlation-id": "undelivered-1"}
    )
    # Then the event is shown with EventBridge's error
    listed = output_of(outputs, "python -m aiflows dlq list")
    assert (
        "event document.submitted id undelivered-1: SDK_CLIENT_ERROR Not authorized to start the flow"
        in listed
    )
    # And the redrive put it back on the bus, where it started its run
    assert "1 message(s) sent back" in output_of(outputs, "python -m aiflows dlq redrive")
    done = cloud.wait_for_new_execution(app, known, timeout=90)
    assert json.loads(done["input"])["detail"]["document_id"] == "undelivered-1"
    assert done["status"] == "SUCCEEDED", done.get("cause")


def test_breaker_runbook_names_the_model_and_its_error_and_closes_it(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given the classify route's first model throttles until its breaker opens
    policy = routing_policy()
    primary = capabilities()["classify"].route_models[0]
    cloud.model.script(
        primary, *[Throttle()] * (policy.gateway.attempts_per_model * policy.breaker.failure_threshold)
    )
    try:
        for n in range(policy.breaker.failure_threshold):
            # a text of its own each time: classify answers are cached per text
            text = f"{INVOICE['Detail']['text']} Reference BR-{n}."
            event_id = submit(cloud, app, tmp_path, document_id=f"breaker-{n}", text=text)
            assert finished(cloud, app, event_id)["status"] == "SUCCEEDED"  # the fallback model answered
    finally:
        cloud.model.reset()
    breaker = CircuitBreaker(
        DynamoDBBreakerStore(app.outputs["StateTableName"], client=cloud.client("dynamodb")), policy.breaker
    )
    assert breaker.read(primary).state == "open"
    # When the on-call person follows the page
    outputs = run_page(cloud, "breaker-open.md", **{"model-id": primary, "correlation-id": event_id})
    # Then the first look shows the open breaker, and its last error
    first_look = output_of(outputs, "python -m aiflows breakers list")
    line = next(line for line in first_look.splitlines() if primary in line)
    attempts = policy.gateway.attempts_per_model
    throttled = ", ".join(["throttled"] * attempts)
    assert line.startswith("open") and f"last error: {attempts} calls failed: {throttled}" in line
    # And closing it closes it, for the gateway too
    assert f"{primary}: closed" in output_of(outputs, "python -m aiflows breakers close")
    after = output_of(outputs, "python -m aiflows breakers list", which=1)
    assert next(line for line in after.splitlines() if primary in line).startswith("closed")
    assert breaker.read(primary).state == "closed"
    # And what the breaker alarm counts was emitted, with the alarm's dimensions
    assert sum(emitted(emf_records(cloud), "BreakerOpen", {"service": "aiflows"})) >= 1


def test_every_custom_metric_the_alarms_and_dashboards_read_is_emitted(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given a run that waits for a review, a run of every other flow's sample, and an express run
    # (the earlier tests opened a breaker)
    event_id = put_event_file(cloud, app, EVENTS / "review.json")
    pending_review(cloud, app, event_id)
    others = [f for f in flows().values() if f.name != "document_intake" and f.sample_events()]
    for flow in others:
        sample = next(s for s in flow.sample_events() if not s.name.startswith("invalid"))
        started = execution_of(cloud, app, put_event_file(cloud, app, sample), flow=flow.name)
        cloud.wait_for_execution(started["executionArn"], timeout=90)
    express = cloud.client("stepfunctions").start_sync_execution(
        stateMachineArn=app.outputs["ClassifyExtractStateMachineArn"],
        input=json.dumps(
            {"correlation_id": "sync-1", "document": {**INVOICE["Detail"], "document_id": "sync-1"}}
        ),
    )
    assert express["status"] == "SUCCEEDED", express.get("cause")
    records = emf_records(cloud)
    # Then the pending-review gauge was measured when the review was stored
    assert emitted(records, "PendingReviews", {"service": "aiflows"}), "no PendingReviews gauge"
    # And every custom metric an alarm reads was emitted with exactly the alarm's dimensions
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{app.stack_name}-")["MetricAlarms"]
    watched = [
        (query["MetricStat"]["Metric"]["MetricName"], query["MetricStat"]["Metric"]["Dimensions"])
        for alarm in alarms
        for query in alarm.get("Metrics", [])
        if "MetricStat" in query and query["MetricStat"]["Metric"]["Namespace"] == NAMESPACE
    ] + [
        (alarm["MetricName"], alarm["Dimensions"]) for alarm in alarms if alarm.get("Namespace") == NAMESPACE
    ]
    assert {name for name, _ in watched} == {"FlowCostUSD", "BreakerOpen"}
    for name, dimensions in watched:
        wanted = {d["Name"]: d["Value"] for d in dimensions}
        assert emitted(records, name, wanted), f"no {name} with dimensions {wanted}"
