"""The local cloud runs a synthesized assembly with its real handlers, as Lambda would."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aiflows import testing
from localcloud import Deployment, LocalCloud
from localcloud.report import state_runs

SCALE = 0.01


@pytest.fixture(scope="module")
def cloud(harness_assembly: Path) -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=SCALE) as running:
        yield running


@pytest.fixture(scope="module")
def harness(cloud: LocalCloud, harness_assembly: Path) -> Deployment:
    return cloud.deploy(harness_assembly)


def put_event(cloud: LocalCloud, source: str, detail: dict[str, Any]) -> None:
    answer = cloud.client("events").put_events(
        Entries=[
            {
                "EventBusName": "harness",
                "Source": source,
                "DetailType": "test",
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    return testing.history(cloud, execution_arn)


def test_parallel_branches_each_run_in_their_own_environment(cloud: LocalCloud, harness: Deployment) -> None:
    # Given two functions that both import a module named `logic` and read SETTING
    # When an event starts the flow that runs them in two Parallel branches
    put_event(cloud, "harness.flow", {"order": 42})
    [execution] = cloud.wait_for_executions(harness.outputs["ParallelFlowArn"], count=1)

    # Then each branch ran its own handler with its own environment, in its own process
    assert execution["status"] == "SUCCEEDED"
    alpha, beta = json.loads(execution["output"])
    assert (alpha["module"], alpha["setting"]) == ("alpha", "one")
    assert (beta["module"], beta["setting"]) == ("beta", "two")
    assert len({alpha["pid"], beta["pid"], os.getpid()}) == 3
    # And the rule's InputPath gave the flow only the event's detail
    assert json.loads(execution["input"]) == {"order": 42}


def test_warm_invocations_reuse_the_execution_environment(cloud: LocalCloud, harness: Deployment) -> None:
    # Given a function invoked once already (or not)
    lam = cloud.client("lambda")
    name = harness.outputs["BetaName"]
    first = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    # When it is invoked again
    second = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    # Then the same warm process answers, with its module state kept
    assert second["pid"] == first["pid"]
    assert second["calls"] == first["calls"] + 1
    assert second["request_id"] != first["request_id"]
    # And the log group tells the cold start apart from the warm one
    events = cloud.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    reports = [e["message"] for e in events if e["message"].startswith("REPORT")]
    assert sum("Init Duration" in r for r in reports) == 1
    assert len(reports) >= 2


def test_concurrent_invocations_scale_out_to_more_environments(
    cloud: LocalCloud, harness: Deployment
) -> None:
    # Given a function whose calls each take a while
    lam = cloud.client("lambda")
    name = harness.outputs["AlphaName"]

    def call(_: int) -> dict[str, Any]:
        return json.loads(lam.invoke(FunctionName=name, Payload=b'{"sleep": 0.5}')["Payload"].read())

    # When three calls overlap
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(call, range(3)))
    # Then Lambda's scaling gives each its own execution environment
    assert len({a["pid"] for a in answers}) == 3
    assert all(a["setting"] == "one" for a in answers)


def test_a_handler_that_overruns_its_timeout_is_stopped(cloud: LocalCloud, harness: Deployment) -> None:
    # Given a function with a 1 s timeout
    lam = cloud.client("lambda")
    name = harness.outputs["SleeperName"]
    # When a call takes 3 s
    answer = lam.invoke(FunctionName=name, Payload=b'{"sleep": 3}')
    # Then the invocation fails with Lambda's timeout error
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    # And the next call gets a fresh environment that works
    again = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert again["calls"] == 1


def test_a_handler_exception_fails_the_invocation_as_lambda_does(
    cloud: LocalCloud, harness: Deployment
) -> None:
    # Given a function whose handler raises
    name = harness.outputs["FlakyName"]
    # When it is invoked directly
    answer = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"id": "a1"}))
    # Then Lambda's error shape comes back, never a made-up result
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "TransientError"
    assert error["errorMessage"] == "dependency unavailable for a1"
    assert any("handler.py" in frame for frame in error["stackTrace"])


def test_retry_then_catch_exactly_as_the_definition_says(cloud: LocalCloud, harness: Deployment) -> None:
    # Given a flow whose task retries TransientError twice (10 s, then 20 s) and then catches
    sfn = cloud.client("stepfunctions")
    started = time.monotonic()
    arn = sfn.start_execution(
        stateMachineArn=harness.outputs["RetryFlowArn"],
        name="retry-1",
        input=json.dumps({"id": "r1"}),
    )["executionArn"]
    # When it runs
    execution = cloud.wait_for_execution(arn, timeout=30)
    elapsed = time.monotonic() - started

    # Then three attempts failed, the Catch led to the named Fail state, with the handler's error
    assert execution["status"] == "FAILED"
    assert execution["error"] == "GaveUp"
    assert json.loads(execution["cause"])["errorType"] == "TransientError"
    events = history(cloud, arn)
    assert sum(e["type"] == "TaskFailed" for e in events) == 3
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert entered == ["Flaky", "GaveUp"]
    # And the report tells the attempts and errors of that state, and of no other
    runs = {run.name: run for run in state_runs(events)}
    assert (runs["Flaky"].attempts, runs["Flaky"].errors) == (3, ("TransientError",) * 3)
    assert (runs["GaveUp"].attempts, runs["GaveUp"].errors) == (0, ())
    # And the 30 s of production back-off ran compressed by the time scale, not skipped
    assert elapsed >= 30 * SCALE


def test_a_wait_state_runs_on_the_time_scale(cloud: LocalCloud, harness: Deployment) -> None:
    # Given a flow that waits 60 s
    sfn = cloud.client("stepfunctions")
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=harness.outputs["WaitFlowArn"], name="wait-1")["executionArn"]
    # When it runs at a scale of 0.01
    execution = cloud.wait_for_execution(arn, timeout=30)
    # Then it succeeds after about 0.6 s, not a minute
    assert execution["status"] == "SUCCEEDED"
    assert 60 * SCALE <= time.monotonic() - started < 30


def test_sqs_mapping_polls_in_batches_and_honours_batch_item_failures(
    cloud: LocalCloud, harness: Deployment
) -> None:
    # Given a queue mapped to a function that reports partial batch failures
    sqs = cloud.client("sqs")
    bodies = [f"m{i}" for i in range(6)] + ["poison-1"]
    # When seven messages arrive at once
    sqs.send_message_batch(
        QueueUrl=harness.outputs["QueueUrl"],
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
    )
    table = cloud.client("dynamodb")
    dlq_url = harness.outputs["DlqUrl"]
    deadline = time.monotonic() + 30
    dead: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not dead:
        dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        time.sleep(0.1)

    # Then the poison message went to the DLQ after the redrive policy's two receives
    assert [m["Body"] for m in dead] == ["poison-1"]
    # And every good message was processed once, in batches of more than one message
    items = {
        i["pk"]["S"]: i
        for i in table.scan(TableName=harness.outputs["TableName"])["Items"]
        if i["pk"]["S"].startswith("msg#")
    }
    assert set(items) == {f"msg#m{i}" for i in range(6)}
    assert all(i["receive_count"]["N"] == "1" for i in items.values())
    assert max(int(i["batch_size"]["N"]) for i in items.values()) > 1
    # And nothing is left on the queue
    attributes = sqs.get_queue_attributes(QueueUrl=harness.outputs["QueueUrl"], AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_eventbridge_delivers_to_lambda_through_the_input_transformer(
    cloud: LocalCloud, harness: Deployment
) -> None:
    # Given a rule whose Lambda target reshapes the event with an InputTransformer
    # When a matching event is put on the bus
    put_event(cloud, "harness.function", {"who": "ada"})
    table = cloud.client("dynamodb")
    deadline = time.monotonic() + 20
    recorded: list[Any] = []
    while time.monotonic() < deadline and not recorded:
        recorded = [
            json.loads(i["input"]["S"])
            for i in table.scan(TableName=harness.outputs["TableName"])["Items"]
            if i["pk"]["S"].startswith("event#")
        ]
        time.sleep(0.05)
    # Then the function received the transformed input
    assert recorded == [{"greeting": "hello ada"}]


def test_start_sync_execution_answers_an_express_flow(cloud: LocalCloud, harness: Deployment) -> None:
    # Given an Express flow (moto has no StartSyncExecution: the local cloud answers it)
    sfn = cloud.client("stepfunctions")
    definition = {
        "StartAt": "Echo",
        "States": {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}},
    }
    arn = sfn.create_state_machine(
        name="express-echo",
        type="EXPRESS",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    # When it is started synchronously
    answer = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"x": 7}))
    # Then the answer has AWS's shape: status, output and billing details
    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"got": 7}
    assert answer["billingDetails"]["billedDurationInMilliseconds"] % 100 == 0
    # And a Standard flow is refused, as on AWS
    with pytest.raises(sfn.exceptions.ClientError, match="StateMachineTypeNotSupported"):
        sfn.start_sync_execution(stateMachineArn=harness.outputs["WaitFlowArn"], input="{}")


def test_a_crashed_environment_fails_its_call_and_is_replaced(cloud: LocalCloud, harness: Deployment) -> None:
    # Given a call in flight
    lam = cloud.client("lambda")
    name = harness.outputs["BetaName"]
    assert cloud.lambdas is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(lambda: lam.invoke(FunctionName=name, Payload=b'{"sleep": 5}'))
        deadline = time.monotonic() + 10
        while cloud.lambdas.busy(name) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        # When its execution environment dies
        assert cloud.lambdas.crash(name) >= 1
        answer = call.result(timeout=10)
    # Then the call fails as Lambda reports a runtime that exited
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "Runtime.ExitError"
    # And the next call starts a fresh environment
    fresh = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert fresh["calls"] == 1


def test_an_init_past_its_limit_is_retried_once_with_the_function_timeout(
    cloud: LocalCloud, harness: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AWS: the Init phase is limited to 10 seconds; past them, Lambda retries it at the first
    # invocation, with the function's configured timeout.
    import localcloud.lambdas

    lam = cloud.client("lambda")
    name = harness.outputs["BetaName"]
    assert cloud.lambdas is not None
    lam.invoke(FunctionName=name, Payload=b"{}")
    cloud.lambdas.crash(name)  # no warm environment left: the next call starts one
    # Given an init limit no interpreter can start within
    monkeypatch.setattr(localcloud.lambdas, "INIT_TIMEOUT_SECONDS", 0.001)
    # When the function is called
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    # Then the retried init (with the function's timeout) ran, and so did the handler
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["calls"] == 1
