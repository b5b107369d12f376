"""CloudWatch Logs in the local cloud, over the deployed app's own log lines (patches/logs.py).

AWS: FilterLogEvents (CloudWatch Logs API reference) with the patterns of "Filter pattern syntax
for metric filters, subscription filters, filter log events, and Live Tail" (user guide); the
execution logs of "Using CloudWatch Logs to log execution history in Step Functions" and "Log
levels" (Step Functions developer guide); Lambda's system logs of "Configuring JSON and plain
text log formats" and "Log-level filtering" (Lambda developer guide).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aiflows.testing import run_sample
from localcloud import Deployment, LocalCloud

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "statemachines" / "ticket_triage" / "events" / "sample.json"
FLOW_LOGS = "/aws/vendedlogs/states/AiFlows-ticket_triage"


def events_of(cloud: LocalCloud, group: str, **query: Any) -> list[dict[str, Any]]:
    """Every event FilterLogEvents answers, page after page."""
    pages = cloud.client("logs").get_paginator("filter_log_events").paginate(logGroupName=group, **query)
    return [event for page in pages for event in page["events"]]


def record(message: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@pytest.fixture(scope="module")
def runs(cloud: LocalCloud, app: Deployment) -> list[dict[str, Any]]:
    """Two runs of the ticket triage flow, ended."""
    return [run_sample(cloud, app, SAMPLE, "ticket_triage") for _ in range(2)]


@pytest.fixture(scope="module")
def guard_logs(cloud: LocalCloud, app: Deployment, runs: list[dict[str, Any]]) -> str:
    function = app.outputs["GuardFunctionName"]
    return str(
        cloud.client("lambda").get_function_configuration(FunctionName=function)["LoggingConfig"]["LogGroup"]
    )


def test_a_json_pattern_on_the_correlation_id_returns_exactly_that_runs_lines(
    cloud: LocalCloud, guard_logs: str
) -> None:
    # "JSON filter patterns": { $.correlation_id = "…" } matches the JSON events whose key has that value
    everything = events_of(cloud, guard_logs)
    by_run: dict[str, list[str]] = {}
    for event in everything:
        run = (record(event["message"]) or {}).get("correlation_id")
        if run:
            by_run.setdefault(run, []).append(event["eventId"])
    assert len(by_run) == 2, by_run  # one correlation id a run
    for run, ids in by_run.items():
        found = events_of(cloud, guard_logs, filterPattern=f'{{ $.correlation_id = "{run}" }}')
        assert [e["eventId"] for e in found] == ids
        # and the quoted term aiflows/ops.py looks a run up with finds the same lines
        assert [e["eventId"] for e in events_of(cloud, guard_logs, filterPattern=f'"{run}"')] == ids
        # a compound condition narrows them
        both = f'{{ $.correlation_id = "{run}" && $.level = "INFO" && $.cold_start IS TRUE }}'
        assert {e["eventId"] for e in events_of(cloud, guard_logs, filterPattern=both)} <= set(ids)
    assert events_of(cloud, guard_logs, filterPattern='{ $.correlation_id = "no such run" }') == []
    assert len(everything) > sum(map(len, by_run.values()))  # the metric lines name no run


def test_terms_alternatives_and_exclusions_select_the_lines_that_have_them(
    cloud: LocalCloud, guard_logs: str
) -> None:
    # "Matching terms in unstructured log events": all terms; ?term alternatives; -term excludes
    messages = [e["message"] for e in events_of(cloud, guard_logs)]

    def found(pattern: str) -> list[str]:
        return [e["message"] for e in events_of(cloud, guard_logs, filterPattern=pattern)]

    assert found('"guard verdict"') == [m for m in messages if "guard verdict" in m] != []
    assert found("GuardOutcome StepSucceeded") == [
        m for m in messages if "GuardOutcome" in m and "StepSucceeded" in m
    ]
    assert found("?GuardOutcome ?StepSucceeded") == [
        m for m in messages if "GuardOutcome" in m or "StepSucceeded" in m
    ]
    assert (
        found("CloudWatchMetrics -GuardOutcome")
        == [m for m in messages if "CloudWatchMetrics" in m and "GuardOutcome" not in m]
        != []
    )
    assert found("%guard verdict%".replace(" ", r"\s")) == [m for m in messages if "guard verdict" in m]


def test_a_pattern_that_does_not_parse_answers_invalid_parameter(cloud: LocalCloud, guard_logs: str) -> None:
    logs = cloud.client("logs")
    for pattern, message in [
        ('{ $.correlation_id = "x"', "If a filter pattern starts with '{' it must end with '}'"),
        ("run-1", "Invalid character(s) in term '-'"),
        ("{ $.latency > fast }", "Invalid filter pattern"),
    ]:
        with pytest.raises(ClientError) as refused:
            logs.filter_log_events(logGroupName=guard_logs, filterPattern=pattern)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
        assert message in refused.value.response["Error"]["Message"]


def test_pages_streams_and_the_time_range_bound_what_filter_log_events_answers(
    cloud: LocalCloud, guard_logs: str
) -> None:
    # FilterLogEvents: events of every stream in one order (interleaved "is ignored and the value
    # is assumed to be true"), a nextToken while more match, startTime and endTime included
    logs = cloud.client("logs")
    everything = logs.filter_log_events(logGroupName=guard_logs)
    assert "nextToken" not in everything and everything["searchedLogStreams"] == []
    events = everything["events"]
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    paged = events_of(cloud, guard_logs, limit=2, interleaved=False)
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in events]
    first = logs.filter_log_events(logGroupName=guard_logs, limit=2)
    assert len(first["events"]) == 2 and first["nextToken"]
    middle = events[len(events) // 2]["timestamp"]
    assert events_of(cloud, guard_logs, startTime=middle) == [e for e in events if e["timestamp"] >= middle]
    assert events_of(cloud, guard_logs, endTime=middle) == [e for e in events if e["timestamp"] <= middle]
    stream = events[0]["logStreamName"]
    assert {e["logStreamName"] for e in events_of(cloud, guard_logs, logStreamNamePrefix=stream[:12])} <= {
        e["logStreamName"] for e in events if e["logStreamName"].startswith(stream[:12])
    }
    assert events_of(cloud, guard_logs, logStreamNames=[stream]) == [
        e for e in events if e["logStreamName"] == stream
    ]
    with pytest.raises(ClientError) as refused:  # "returns an InvalidParameterException error"
        logs.filter_log_events(logGroupName=guard_logs, logStreamNames=[stream], logStreamNamePrefix="x")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    arn = f"arn:aws:logs:{cloud.region}:{cloud.account}:log-group:{guard_logs}:*"
    assert logs.filter_log_events(logGroupIdentifier=arn)["events"] == events


def test_a_functions_system_logs_follow_its_log_format_and_system_log_level(
    cloud: LocalCloud, app: Deployment, guard_logs: str
) -> None:
    # "Log-level filtering": at the default system level, INFO, "Lambda automatically sends "start"
    # and "report" log messages"; the app's functions are JSON at WARN: Lambda sends neither
    messages = [e["message"] for e in events_of(cloud, guard_logs)]
    assert not [m for m in messages if m.startswith(("START", "END", "REPORT"))]
    assert not [m for m in messages if str((record(m) or {}).get("type", "")).startswith("platform.")]


# --- Step Functions ----------------------------------------------------------------------------


def test_a_runs_history_is_in_its_flows_log_group(cloud: LocalCloud, runs: list[dict[str, Any]]) -> None:
    # "Using CloudWatch Logs to log execution history": the ticket triage machine logs at ALL without
    # execution data (its LoggingConfiguration), one log event per history event
    sfn = cloud.client("stepfunctions")
    for run in runs:
        arn = run["executionArn"]
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        logged = events_of(cloud, FLOW_LOGS, filterPattern=f'{{ $.execution_arn = "{arn}" }}')
        records = [json.loads(e["message"]) for e in logged]
        assert [r["type"] for r in records] == [e["type"] for e in history]
        # (the history's own order: once it ended with a TaskSucceeded after ExecutionSucceeded)
        assert records[0]["type"] == "ExecutionStarted" and "ExecutionSucceeded" in [
            r["type"] for r in records
        ]
        for event, logged_record in zip(history, records, strict=True):
            assert logged_record["id"] == str(event["id"])
            assert logged_record["previous_event_id"] == str(event["previousEventId"])
            assert logged_record["redrive_count"] == "0"
            assert int(logged_record["event_timestamp"]) == pytest.approx(
                event["timestamp"].timestamp() * 1000, abs=1
            )
            # "When set to false, data is excluded": no input, output or task parameters
            assert not {"input", "output", "parameters", "assignedVariables"} & set(logged_record["details"])
        assert records[0]["details"]["roleArn"]
        # in one stream of the execution, named states/<machine>/<YYYY-MM-DD-HH-MM>/<id>
        machine = arn.split(":")[6]
        [stream] = {e["logStreamName"] for e in logged}
        assert re.fullmatch(rf"states/{re.escape(machine)}/\d{{4}}-\d\d-\d\d-\d\d-\d\d/[0-9a-f]{{8}}", stream)


def test_the_log_level_picks_the_events_and_execution_data_is_included_when_asked(cloud: LocalCloud) -> None:
    # "Log levels": ERROR logs ExecutionFailed and FailStateEntered (not ExecutionStarted); ALL every
    # event; includeExecutionData keeps the inputs and outputs
    logs, sfn = cloud.client("logs"), cloud.client("stepfunctions")
    definition = json.dumps(
        {
            "StartAt": "Note",
            "States": {
                "Note": {"Type": "Pass", "Next": "Stop"},
                "Stop": {"Type": "Fail", "Error": "Refused", "Cause": "by the test"},
            },
        }
    )
    found = {}
    for level, data in (("ERROR", False), ("ALL", True), ("OFF", False)):
        group = f"/aws/vendedlogs/states/logging-{level.lower()}"
        logs.create_log_group(logGroupName=group)
        machine = sfn.create_state_machine(
            name=f"logging-{level.lower()}",
            definition=definition,
            roleArn=f"arn:aws:iam::{cloud.account}:role/states",
            loggingConfiguration={
                "level": level,
                "includeExecutionData": data,
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": f"arn:aws:logs:{cloud.region}:{cloud.account}:log-group:{group}:*"
                        }
                    }
                ],
            },
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input='{"n": 1}')["executionArn"]
        assert cloud.wait_for_execution(execution)["status"] == "FAILED"
        deadline = time.monotonic() + 5
        while (time.monotonic() < deadline) and level != "OFF" and not found.get(level):
            found[level] = [json.loads(e["message"]) for e in events_of(cloud, group)]
            time.sleep(0.05)
        found[level] = [json.loads(e["message"]) for e in events_of(cloud, group)]
    assert [r["type"] for r in found["ERROR"]] == ["FailStateEntered", "ExecutionFailed"]
    assert found["ALL"][0]["type"] == "ExecutionStarted" and found["ALL"][-1]["type"] == "ExecutionFailed"
    assert json.loads(found["ALL"][0]["details"]["input"]) == {"n": 1}
    assert found["ALL"][-1]["details"]["error"] == "Refused"
    assert found["OFF"] == []


# --- Lambda's system logs ------------------------------------------------------------------------

HANDLER = (
    "def handler(event, context):\n    print('handled ' + context.aws_request_id)\n    return {'ok': True}\n"
)


def _function(log_format: str | None, level: str | None = None, group: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Code": {"ZipFile": HANDLER},
        "MemorySize": 256,
    }
    if log_format:
        properties["LoggingConfig"] = {
            "LogFormat": log_format,
            "LogGroup": {"Ref": group},
            **({"SystemLogLevel": level} if level else {}),
        }
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


@pytest.fixture(scope="module")
def formats(cloud: LocalCloud) -> dict[str, str]:
    """Three functions: JSON logs at the INFO system level, JSON at WARN, and plain text."""
    assume = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": assume}},
            "JsonLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/formats/json"}},
            "WarnLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/formats/warn"}},
            "Json": _function("JSON", "INFO", "JsonLogs"),
            "Warn": _function("JSON", "WARN", "WarnLogs"),
            "Text": _function(None),
        },
        "Outputs": {name: {"Value": {"Ref": name}} for name in ("Json", "Warn", "Text")},
    }
    cfn = cloud.client("cloudformation")
    cfn.create_stack(
        StackName="LogFormats", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    described = cfn.describe_stacks(StackName="LogFormats")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def invoked_twice(cloud: LocalCloud, function: str, group: str) -> list[str]:
    lam = cloud.client("lambda")
    for _ in range(2):
        assert json.loads(lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()) == {"ok": True}
    return [e["message"] for e in events_of(cloud, group)]


def test_a_json_format_function_writes_platform_start_and_report_records(
    cloud: LocalCloud, formats: dict[str, str]
) -> None:
    # "Configuring JSON and plain text log formats": with the JSON format, the system logs are JSON
    # records {"time", "type", "record"}: platform.start (requestId, functionArn, version) and
    # platform.report (requestId, status, metrics: durationMs, billedDurationMs, memorySizeMB,
    # maxMemoryUsedMB, and initDurationMs after a cold start)
    messages = invoked_twice(cloud, formats["Json"], "/formats/json")
    records = [r for r in map(record, messages) if r is not None]
    assert [r["type"] for r in records] == ["platform.start", "platform.report"] * 2
    assert not [m for m in messages if m.startswith(("START", "END", "REPORT"))]
    arn = cloud.client("lambda").get_function(FunctionName=formats["Json"])["Configuration"]["FunctionArn"]
    for start, report in zip(records[::2], records[1::2], strict=True):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start["time"])
        assert start["record"] == {
            "requestId": start["record"]["requestId"],
            "functionArn": arn,
            "version": "$LATEST",
        }
        assert report["record"]["requestId"] == start["record"]["requestId"]
        assert report["record"]["status"] == "success"
        metrics = report["record"]["metrics"]
        assert metrics["billedDurationMs"] >= metrics["durationMs"] > 0
        assert metrics["memorySizeMB"] == 256 and metrics["maxMemoryUsedMB"] > 0
    assert "initDurationMs" in records[1]["record"]["metrics"]  # the cold start
    assert "initDurationMs" not in records[3]["record"]["metrics"]  # the warm one
    # the handler's own print stays a line of text, between the records
    assert any(m.startswith("handled ") for m in messages)
    # and a JSON pattern finds the reports
    found = events_of(
        cloud,
        "/formats/json",
        filterPattern='{ $.type = "platform.report" && $.record.metrics.durationMs > 0 }',
    )
    assert len(found) == 2


def test_a_json_format_function_at_the_warn_level_writes_no_platform_records(
    cloud: LocalCloud, formats: dict[str, str]
) -> None:
    # "Log-level filtering": "Lambda sends logs at the selected level and lower"; start and report
    # are INFO
    messages = invoked_twice(cloud, formats["Warn"], "/formats/warn")
    assert messages and all(m.startswith("handled ") for m in messages)


def test_a_text_format_function_writes_start_end_and_report_lines(
    cloud: LocalCloud, formats: dict[str, str]
) -> None:
    # "Configuring JSON and plain text log formats": the Text format's START, END and REPORT lines
    messages = invoked_twice(cloud, formats["Text"], f"/aws/lambda/{formats['Text']}")
    kinds = [m.split()[0] for m in messages if not m.startswith("handled ")]
    assert kinds == ["START", "END", "REPORT"] * 2
    reports = [m for m in messages if m.startswith("REPORT")]
    assert all(
        re.fullmatch(
            r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\t"
            r"Max Memory Used: \d+ MB(\tInit Duration: [\d.]+ ms)?",
            r,
        )
        for r in reports
    )
    assert ["Init Duration" in r for r in reports] == [True, False]


def test_each_invocations_output_is_logged_between_its_start_and_end_when_it_returns(
    cloud: LocalCloud, formats: dict[str, str]
) -> None:
    # "Using Lambda with CloudWatch Logs": an invocation's own output comes between its START and END
    # lines, and is there as soon as the invocation has returned, not once the next one runs.
    lam = cloud.client("lambda")
    group = f"/aws/lambda/{formats['Text']}"
    for _ in range(12):
        before = {event["eventId"] for event in events_of(cloud, group)}
        lam.invoke(FunctionName=formats["Text"], Payload=b"{}")
        messages = [event["message"] for event in events_of(cloud, group) if event["eventId"] not in before]
        kinds = [m.split()[0] for m in messages]
        assert kinds == ["START", "handled", "END", "REPORT"], messages
        request_id = messages[0].split()[2]
        assert messages[1] == f"handled {request_id}"
