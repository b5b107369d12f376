"""The stock AWS CLI against the served local cloud: each command answers with AWS's shape and errors.

Each case names the AWS API reference it follows. The commands are the ones a user runs on the
app's services (docs/local-cloud.md#the-aws-cli): list, describe and get with their paging, the
runs' life cycle, the bus, the queues, the table, the buckets, the alarms.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from aiflows.registry import ROOT
from localcloud import Deployment
from tests.stock.cli import StockCli

CLEAR = ROOT / "statemachines" / "document_intake" / "events" / "clear.json"
REVIEW = ROOT / "statemachines" / "document_intake" / "events" / "review.json"
TICKET = ROOT / "statemachines" / "ticket_triage" / "events" / "sample.json"


def readme_block(heading: str) -> str:
    """The README's shell block under a heading whose text starts with ``heading``."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    local = [b for b in blocks if "AWS_ENDPOINT_URL" in b]
    assert local, f"README.md's '{heading}' has no block for the local cloud"
    return local[0]


def until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def run_ended(aws: StockCli, execution_arn: str) -> dict[str, Any]:
    described: dict[str, Any] = until(
        lambda: (
            d
            if (d := aws("stepfunctions", "describe-execution", "--execution-arn", execution_arn))["status"]
            != "RUNNING"
            else None
        )
    )
    assert described, f"{execution_arn} is still running"
    return described


@pytest.fixture(scope="module")
def readme_run(served: StockCli, app: Deployment) -> dict[str, Any]:
    """The README's "Triggering a flow" commands, run as written against the served cloud."""
    script = readme_block("Triggering a flow").replace("http://127.0.0.1:4599", served.endpoint)
    done = subprocess.run(
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**served.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:1"},  # the script sets its own
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    decoder, printed, at = json.JSONDecoder(), [], 0
    while at < len(done.stdout.rstrip()):
        value, at = decoder.raw_decode(done.stdout, at)
        printed.append(value)
        at += len(done.stdout[at:]) - len(done.stdout[at:].lstrip())
    put, listed = printed  # what put-events and list-executions printed
    return {"put": put, "listed": listed}


# --- EventBridge -----------------------------------------------------------------------------


def test_the_readme_puts_a_sample_event_and_the_run_is_listed_on_the_alias(
    readme_run: dict[str, Any], app: Deployment
) -> None:
    # PutEvents answers FailedEntryCount and an EventId per entry (EventBridge API: PutEvents);
    # ListExecutions on an alias ARN lists the runs it started (Step Functions API: ListExecutions)
    assert readme_run["put"]["FailedEntryCount"] == 0
    assert readme_run["put"]["Entries"][0]["EventId"]
    executions = readme_run["listed"]["executions"]
    assert executions, "the alias lists no run"
    assert {e["stateMachineAliasArn"] for e in executions} == {app.outputs["DocumentIntakeAliasArn"]}


def test_test_event_pattern_matches_the_flows_trigger_and_refuses_a_bad_pattern(aws: StockCli) -> None:
    # TestEventPattern answers Result; an invalid pattern is InvalidEventPatternException
    event = {
        "id": "1",
        "detail-type": "document.submitted",
        "source": "aiflows.documents",
        "account": "123456789012",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"tenant": "acme"},
    }
    pattern = {"source": ["aiflows.documents"], "detail-type": ["document.submitted"]}
    args = ("events", "test-event-pattern", "--event", json.dumps(event))
    assert aws(*args, "--event-pattern", json.dumps(pattern)) == {"Result": True}
    assert aws(*args, "--event-pattern", json.dumps({"source": ["other"]})) == {"Result": False}
    refused = aws.fails(*args, "--event-pattern", json.dumps({"source": "not-a-list"}))
    assert refused.code == "InvalidEventPatternException"


def test_the_bus_and_its_rules_are_described_and_listed_with_paging(aws: StockCli, app: Deployment) -> None:
    bus = app.outputs["EventBusName"]
    described = aws("events", "describe-event-bus", "--name", bus)
    assert described["Name"] == bus and described["Arn"].endswith(f":event-bus/{bus}")
    rules = aws("events", "list-rules", "--event-bus-name", bus)["Rules"]
    assert len(rules) >= 3
    first = aws("events", "list-rules", "--event-bus-name", bus, "--max-items", "1")
    assert len(first["Rules"]) == 1 and first["NextToken"]
    rest = aws("events", "list-rules", "--event-bus-name", bus, "--starting-token", first["NextToken"])
    assert [r["Name"] for r in first["Rules"] + rest["Rules"]] == [r["Name"] for r in rules]
    targets = aws("events", "list-targets-by-rule", "--rule", rules[0]["Name"], "--event-bus-name", bus)
    assert targets["Targets"]


# --- Step Functions --------------------------------------------------------------------------


def test_a_run_is_described_and_its_history_read_in_pages_and_in_reverse(
    readme_run: dict[str, Any], aws: StockCli, app: Deployment
) -> None:
    # DescribeExecution names the alias and version a run went through; GetExecutionHistory
    # pages with maxResults/nextToken and reverses with reverseOrder (Step Functions API reference)
    arn = readme_run["listed"]["executions"][0]["executionArn"]
    described = run_ended(aws, arn)
    assert described["stateMachineAliasArn"] == app.outputs["DocumentIntakeAliasArn"]
    assert described["stateMachineVersionArn"] == app.outputs["DocumentIntakeVersionArn"]
    whole = aws("stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
    assert whole[0]["type"] == "ExecutionStarted"
    last_two = aws(
        "stepfunctions",
        "get-execution-history",
        "--execution-arn",
        arn,
        "--reverse-order",
        "--max-items",
        "2",
    )
    assert [e["id"] for e in last_two["events"]] == [whole[-1]["id"], whole[-2]["id"]]
    assert last_two["NextToken"]
    paged = aws("stepfunctions", "get-execution-history", "--execution-arn", arn, "--page-size", "3")
    assert [e["id"] for e in paged["events"]] == [e["id"] for e in whole]


def test_versions_and_aliases_are_listed_and_described(aws: StockCli, app: Deployment) -> None:
    machine = app.outputs["DocumentIntakeStateMachineArn"]
    versions = aws("stepfunctions", "list-state-machine-versions", "--state-machine-arn", machine)
    assert [v["stateMachineVersionArn"] for v in versions["stateMachineVersions"]] == [
        app.outputs["DocumentIntakeVersionArn"]
    ]
    aliases = aws("stepfunctions", "list-state-machine-aliases", "--state-machine-arn", machine)
    [alias] = aliases["stateMachineAliases"]
    described = aws(
        "stepfunctions",
        "describe-state-machine-alias",
        "--state-machine-alias-arn",
        alias["stateMachineAliasArn"],
    )
    assert described["routingConfiguration"] == [
        {"stateMachineVersionArn": app.outputs["DocumentIntakeVersionArn"], "weight": 100}
    ]
    machines = aws("stepfunctions", "list-state-machines")["stateMachines"]
    assert machine in {m["stateMachineArn"] for m in machines}
    assert (
        aws("stepfunctions", "describe-state-machine", "--state-machine-arn", machine)["type"] == "STANDARD"
    )


def test_validate_state_machine_definition_answers_ok_or_the_diagnostics(aws: StockCli) -> None:
    # ValidateStateMachineDefinition: result OK, or FAIL with diagnostics (severity, code, message)
    good = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    assert (
        aws("stepfunctions", "validate-state-machine-definition", "--definition", json.dumps(good))["result"]
        == "OK"
    )
    bad = {"StartAt": "A", "States": {"A": {"Type": "Passing", "End": True}}}
    answer = aws("stepfunctions", "validate-state-machine-definition", "--definition", json.dumps(bad))
    assert answer["result"] == "FAIL"
    assert answer["diagnostics"] and answer["diagnostics"][0]["severity"] == "ERROR"


def test_a_run_waiting_for_a_person_is_stopped_and_a_bad_token_refused(
    aws: StockCli, app: Deployment
) -> None:
    # StopExecution answers stopDate and the run ends ABORTED with the error and cause given;
    # SendTaskSuccess with a token no task issued is InvalidToken, and output that is not JSON
    # InvalidOutput (Step Functions API reference)
    put = aws("events", "put-events", "--entries", f"file://{REVIEW}")
    event_id = put["Entries"][0]["EventId"]
    alias = app.outputs["DocumentIntakeAliasArn"]

    def started_by_the_event() -> dict[str, Any] | None:
        for execution in aws("stepfunctions", "list-executions", "--state-machine-arn", alias)["executions"]:
            described = aws(
                "stepfunctions", "describe-execution", "--execution-arn", execution["executionArn"]
            )
            if event_id in described["input"]:
                return dict(described)
        return None

    started = until(started_by_the_event)
    assert started, f"no run of the event {event_id}"
    stopped = aws(
        "stepfunctions",
        "stop-execution",
        "--execution-arn",
        started["executionArn"],
        "--error",
        "Stock.Stopped",
        "--cause",
        "stopped from the CLI",
    )
    assert stopped["stopDate"]
    ended = run_ended(aws, started["executionArn"])
    assert (ended["status"], ended["error"], ended["cause"]) == (
        "ABORTED",
        "Stock.Stopped",
        "stopped from the CLI",
    )
    assert (
        aws.fails(
            "stepfunctions", "send-task-success", "--task-token", "no-such-token", "--task-output", "{}"
        ).code
        == "InvalidToken"
    )
    assert (
        aws.fails(
            "stepfunctions", "send-task-success", "--task-token", "no-such-token", "--task-output", "not json"
        ).code
        == "InvalidOutput"
    )
    assert (
        aws.fails("stepfunctions", "send-task-heartbeat", "--task-token", "no-such-token").code
        == "InvalidToken"
    )
    assert (
        aws.fails("stepfunctions", "send-task-failure", "--task-token", "no-such-token").code
        == "InvalidToken"
    )


def test_start_sync_execution_runs_the_express_flow_and_refuses_bad_input(
    aws: StockCli, app: Deployment
) -> None:
    # StartSyncExecution answers the run's status and output at once; input that is not JSON is
    # InvalidExecutionInput; a Standard state machine is StateMachineTypeNotSupported
    express = app.outputs["ClassifyExtractStateMachineArn"]
    detail = json.loads(json.loads(CLEAR.read_text())[0]["Detail"])
    done = aws(
        "stepfunctions",
        "start-sync-execution",
        "--state-machine-arn",
        express,
        "--input",
        json.dumps({"correlation_id": "stock-sync-1", "document": detail | {"document_id": "stock-sync-1"}}),
    )
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])
    refused = aws.fails(
        "stepfunctions", "start-sync-execution", "--state-machine-arn", express, "--input", "{not"
    )
    assert refused.code == "InvalidExecutionInput"
    standard = app.outputs["DocumentIntakeStateMachineArn"]
    assert (
        aws.fails(
            "stepfunctions", "start-sync-execution", "--state-machine-arn", standard, "--input", "{}"
        ).code
        == "StateMachineTypeNotSupported"
    )


def test_a_failed_run_is_redriven(aws: StockCli, app: Deployment) -> None:
    # RedriveExecution answers redriveDate for a FAILED run, and the run is RUNNING again, then
    # ends with redriveCount 1; a SUCCEEDED run is ExecutionNotRedrivable (Step Functions API reference)
    machine = app.outputs["TicketTriageAliasArn"]
    started = aws(
        "stepfunctions", "start-execution", "--state-machine-arn", machine, "--input", '{"not": "a ticket"}'
    )
    failed = run_ended(aws, started["executionArn"])
    assert failed["status"] == "FAILED"
    redriven = aws("stepfunctions", "redrive-execution", "--execution-arn", started["executionArn"])
    assert redriven["redriveDate"]
    again = run_ended(aws, started["executionArn"])
    assert again["redriveCount"] == 1 and again["status"] == "FAILED"
    listed = aws(
        "stepfunctions",
        "list-executions",
        "--state-machine-arn",
        app.outputs["TicketTriageStateMachineArn"],
        "--redrive-filter",
        "REDRIVEN",
    )["executions"]
    assert started["executionArn"] in {e["executionArn"] for e in listed}


# --- CloudFormation ----------------------------------------------------------------------------


def test_describe_stacks_lists_every_output_and_resources_page(
    aws: StockCli, app: Deployment, app_assembly: Path
) -> None:
    template = json.loads((app_assembly / f"{app.stack_name}.template.json").read_text())
    [stack] = aws("cloudformation", "describe-stacks", "--stack-name", app.stack_name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert set(outputs) == set(template["Outputs"])
    assert outputs["ReviewApiUrl"].endswith("/prod/")
    resources = aws("cloudformation", "list-stack-resources", "--stack-name", app.stack_name)[
        "StackResourceSummaries"
    ]
    assert {r["LogicalResourceId"] for r in resources} >= set(app.resources)
    page = aws("cloudformation", "list-stack-resources", "--stack-name", app.stack_name, "--max-items", "5")
    assert len(page["StackResourceSummaries"]) == 5 and page["NextToken"]
    body = aws("cloudformation", "get-template", "--stack-name", app.stack_name)["TemplateBody"]
    assert set(body["Resources"]) == set(template["Resources"])


# --- SQS, DynamoDB, S3, Lambda, CloudWatch, API Gateway, Cognito ---------------------------------


def test_a_message_is_sent_received_and_deleted(aws: StockCli, app: Deployment) -> None:
    # AWS CLI v1 sends sqs commands in us-east-1 to queue.amazonaws.com unless --endpoint-url is
    # given (docs/local-cloud.md#the-aws-cli): the environment's endpoint is not enough there
    sqs = ("sqs", "--endpoint-url", aws.endpoint)
    queue = app.outputs["EventTargetDeadLetterQueueUrl"]
    name = queue.rsplit("/", 1)[1]
    url = aws(*sqs, "get-queue-url", "--queue-name", name)["QueueUrl"]
    assert url.endswith(f"/{name}")
    sent = aws(*sqs, "send-message", "--queue-url", url, "--message-body", '{"from": "the CLI"}')
    assert sent["MessageId"] and sent["MD5OfMessageBody"]
    received = aws(*sqs, "receive-message", "--queue-url", url, "--wait-time-seconds", "1")["Messages"]
    assert [m["Body"] for m in received] == ['{"from": "the CLI"}']
    aws(*sqs, "delete-message", "--queue-url", url, "--receipt-handle", received[0]["ReceiptHandle"])
    attributes = aws(*sqs, "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")[
        "Attributes"
    ]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert aws(*sqs, "list-queues", "--queue-name-prefix", name)["QueueUrls"] == [url]


def test_the_state_table_is_queried_scanned_in_pages_and_read(
    readme_run: dict[str, Any], aws: StockCli, app: Deployment
) -> None:
    table = app.outputs["StateTableName"]
    described = aws("dynamodb", "describe-table", "--table-name", table)["Table"]
    assert described["TableStatus"] == "ACTIVE"
    items = aws("dynamodb", "scan", "--table-name", table)["Items"]
    assert items, "the run wrote nothing to the state table"
    page = aws("dynamodb", "scan", "--table-name", table, "--max-items", "1")
    assert len(page["Items"]) == 1 and page["NextToken"]
    key = {"pk": items[0]["pk"], "sk": items[0]["sk"]}
    assert aws("dynamodb", "get-item", "--table-name", table, "--key", json.dumps(key))["Item"] == items[0]
    queried = aws(
        "dynamodb",
        "query",
        "--table-name",
        table,
        "--key-condition-expression",
        "pk = :pk",
        "--expression-attribute-values",
        json.dumps({":pk": items[0]["pk"]}),
    )
    assert items[0] in queried["Items"] and queried["Count"] == len(queried["Items"])
    refused = aws.fails("dynamodb", "get-item", "--table-name", "no-such-table", "--key", json.dumps(key))
    assert refused.code == "ResourceNotFoundException"


def test_an_object_is_put_got_and_listed_in_the_claim_bucket(
    aws: StockCli, app: Deployment, tmp_path: Path
) -> None:
    bucket = app.outputs["ClaimBucketName"]
    body = tmp_path / "note.txt"
    body.write_text("hello from the CLI\n")
    put = aws("s3api", "put-object", "--bucket", bucket, "--key", "stock/note.txt", "--body", str(body))
    assert put["ETag"]
    got = tmp_path / "got.txt"
    answer = aws("s3api", "get-object", "--bucket", bucket, "--key", "stock/note.txt", str(got))
    assert answer["ContentLength"] == len(body.read_bytes()) and got.read_text() == "hello from the CLI\n"
    listed = aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "stock/")["Contents"]
    assert [o["Key"] for o in listed] == ["stock/note.txt"]
    assert (
        aws.fails("s3api", "get-object", "--bucket", bucket, "--key", "stock/none", str(got)).code
        == "NoSuchKey"
    )


def test_functions_are_listed_in_pages_and_described(aws: StockCli, app: Deployment) -> None:
    functions = aws("lambda", "list-functions")["Functions"]
    assert app.outputs["ClassifyFunctionName"] in {f["FunctionName"] for f in functions}
    page = aws("lambda", "list-functions", "--max-items", "2")
    assert len(page["Functions"]) == 2 and page["NextToken"]
    config = aws(
        "lambda", "get-function-configuration", "--function-name", app.outputs["ClassifyFunctionName"]
    )
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["LoggingConfig"]["LogFormat"] == "JSON"


def test_the_alarms_are_described(aws: StockCli) -> None:
    alarms = aws("cloudwatch", "describe-alarms")["MetricAlarms"]
    assert alarms and all(a["StateValue"] in {"OK", "ALARM", "INSUFFICIENT_DATA"} for a in alarms)
    page = aws("cloudwatch", "describe-alarms", "--max-items", "1")
    assert len(page["MetricAlarms"]) == 1 and page["NextToken"]


def test_the_review_api_and_its_stage_and_the_user_pool_are_listed(aws: StockCli, app: Deployment) -> None:
    apis = aws("apigateway", "get-rest-apis")["items"]
    [api] = [a for a in apis if a["id"] in app.outputs["ReviewApiUrl"]]
    stages = aws("apigateway", "get-stages", "--rest-api-id", api["id"])["item"]
    assert [s["stageName"] for s in stages] == ["prod"]
    pools = aws("cognito-idp", "list-user-pools", "--max-results", "10")["UserPools"]
    assert app.outputs["ReviewerUserPoolId"] in {p["Id"] for p in pools}


def test_log_groups_are_described_and_their_events_filtered_by_a_term(
    readme_run: dict[str, Any], aws: StockCli, app: Deployment
) -> None:
    # FilterLogEvents with a quoted term answers the events whose message holds it (CloudWatch Logs
    # user guide, filter pattern syntax): the run's correlation id, its event's id, is in its lines
    correlation_id = readme_run["put"]["Entries"][0]["EventId"]
    # each function logs to its own group, which its LoggingConfig names (Lambda: LoggingConfig)
    classify = aws(
        "lambda", "get-function-configuration", "--function-name", app.outputs["ClassifyFunctionName"]
    )
    named = classify["LoggingConfig"]["LogGroup"]
    groups = aws("logs", "describe-log-groups", "--log-group-name-prefix", named)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [named]
    found = until(
        lambda: [
            e
            for g in groups
            for e in aws(
                "logs",
                "filter-log-events",
                "--log-group-name",
                g["logGroupName"],
                "--filter-pattern",
                f'"{correlation_id}"',
            )["events"]
        ]
    )
    assert found and all(correlation_id in e["message"] for e in found)


def test_the_runs_trace_is_found_by_its_annotation_and_read_whole(
    readme_run: dict[str, Any], aws: StockCli, app: Deployment
) -> None:
    # GetTraceSummaries with a FilterExpression on an annotation answers the traces that carry it,
    # with their EntryPoint and ServiceIds; BatchGetTraces answers each trace's segment documents
    # (X-Ray API reference; "Using filter expressions" in the X-Ray developer guide)
    correlation_id = readme_run["put"]["Entries"][0]["EventId"]
    run_ended(aws, readme_run["listed"]["executions"][0]["executionArn"])
    now = int(time.time())
    window = ("--start-time", str(now - 3600), "--end-time", str(now + 300))

    def summaries() -> list[dict[str, Any]]:
        expression = f'annotation.correlation_id = "{correlation_id}"'
        found = aws("xray", "get-trace-summaries", *window, "--filter-expression", expression)
        return [
            s
            for s in found["TraceSummaries"]
            if s["EntryPoint"]["Type"] == "AWS::StepFunctions::StateMachine"
        ]

    [summary] = until(summaries)
    assert summary["EntryPoint"]["Name"] == app.outputs["DocumentIntakeStateMachineArn"].rsplit(":", 1)[1]
    assert {"AWS::Lambda::Function"} <= {s["Type"] for s in summary["ServiceIds"]}
    [trace] = aws("xray", "batch-get-traces", "--trace-ids", summary["Id"])["Traces"]
    documents = [json.loads(s["Document"]) for s in trace["Segments"]]
    assert all(d.get("type") != "subsegment" for d in documents)  # nested in their segments
    nothing = aws(
        "xray", "get-trace-summaries", *window, "--filter-expression", 'annotation.correlation_id = "none"'
    )
    assert nothing["TraceSummaries"] == []
    refused = aws.fails("xray", "get-trace-summaries", *window, "--filter-expression", "annotation.x = ")
    assert refused.code == "InvalidRequestException"


def test_a_json_filter_pattern_selects_the_runs_lines_and_the_flow_logs_its_history(
    readme_run: dict[str, Any], aws: StockCli, app: Deployment
) -> None:
    # FilterLogEvents with a JSON pattern, { $.key = "value" }, answers the JSON events whose field
    # holds it (CloudWatch Logs: filter pattern syntax); a bad pattern is InvalidParameterException;
    # a flow that logs ALL writes its execution history to its log group (Step Functions: logging)
    correlation_id = readme_run["put"]["Entries"][0]["EventId"]
    run_ended(aws, readme_run["listed"]["executions"][0]["executionArn"])
    classify = aws(
        "lambda", "get-function-configuration", "--function-name", app.outputs["ClassifyFunctionName"]
    )
    group = classify["LoggingConfig"]["LogGroup"]
    pattern = f'{{ $.correlation_id = "{correlation_id}" }}'
    found = until(
        lambda: aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", pattern)[
            "events"
        ]
    )
    assert found and all(json.loads(e["message"])["correlation_id"] == correlation_id for e in found)
    other = aws(
        "logs",
        "filter-log-events",
        "--log-group-name",
        group,
        "--filter-pattern",
        '{ $.correlation_id = "none" }',
    )
    assert other["events"] == []
    refused = aws.fails(
        "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "{ $.x = "
    )
    assert refused.code == "InvalidParameterException"
    machine = aws(
        "stepfunctions",
        "describe-state-machine",
        "--state-machine-arn",
        app.outputs["DocumentIntakeStateMachineArn"],
    )
    flow_group = machine["loggingConfiguration"]["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"]
    flow_group_name = flow_group.split(":log-group:", 1)[1].removesuffix(":*")
    history = until(
        lambda: aws(
            "logs",
            "filter-log-events",
            "--log-group-name",
            flow_group_name,
            "--filter-pattern",
            '{ $.type = "ExecutionStarted" }',
        )["events"]
    )
    assert history and all(json.loads(e["message"])["type"] == "ExecutionStarted" for e in history)


def test_the_state_tables_ttl_and_point_in_time_recovery_are_as_the_template_sets_them(
    aws: StockCli, app: Deployment, app_assembly: Path
) -> None:
    # DescribeTimeToLive and DescribeContinuousBackups answer what the table's
    # TimeToLiveSpecification and PointInTimeRecoverySpecification enable (AWS::DynamoDB::Table)
    template = json.loads((app_assembly / f"{app.stack_name}.template.json").read_text())
    [table] = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    name = app.outputs["StateTableName"]
    ttl = aws("dynamodb", "describe-time-to-live", "--table-name", name)["TimeToLiveDescription"]
    assert ttl == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": table["Properties"]["TimeToLiveSpecification"]["AttributeName"],
    }
    backups = aws("dynamodb", "describe-continuous-backups", "--table-name", name)[
        "ContinuousBackupsDescription"
    ]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (("lambda", "get-account-settings"), "UnknownOperationException"),
        (
            ("stepfunctions", "test-state", "--definition", "{}", "--role-arn", "arn:aws:iam::1:role/r"),
            "UnknownOperationException",
        ),
        (
            ("sqs", "list-message-move-tasks", "--source-arn", "arn:aws:sqs:us-east-1:123456789012:q"),
            "UnknownOperationException",
        ),
    ],
)
def test_an_operation_the_local_cloud_does_not_model_is_an_aws_error_naming_it(
    aws: StockCli, command: tuple[str, ...], code: str
) -> None:
    endpoint = ("--endpoint-url", aws.endpoint) if command[0] == "sqs" else ()  # AWS CLI v1's sqs
    refused = aws.fails(*command, *endpoint)
    assert refused.code == code
    operation = "".join(part.capitalize() for part in command[1].split("-"))
    assert operation in refused.message
