"""Redriving executions.

Sources: the API reference of RedriveExecution (which executions, the 14 days, Inline Map and
Parallel, Express, the client token), DescribeExecution (redriveCount, redriveDate,
redriveStatus, redriveStatusReason and its wording), ListExecutions (redriveFilter),
ExecutionRedrivenEventDetails, and the developer guide pages "Redriving executions" (a Pass
then a Task: only the Task reruns; the same definition; the machine's timeout reset) and
"Redriving Map Runs" (a state is unsuccessful when its Entered event has no Exited event).

A state's runs are counted by a DynamoDB ``updateItem`` Task that adds one to a counter, and a
Task fails until its fault is cleared by reading an S3 object that is put only later.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.conformance.conftest import ACCOUNT, PASS, REGION, Run, Runner, branch, chain

BUCKET = "conformance-redrive"
TABLE = "conformance-redrive-counts"


@pytest.fixture(scope="module", autouse=True)
def resources(cloud: LocalCloud) -> None:
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    cloud.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def counted(counter: str | None = None, counter_path: str | None = None) -> dict[str, Any]:
    """A Task that adds one to a counter each time it runs, its input passed on unchanged."""
    key = {"S": counter} if counter is not None else {"S.$": counter_path}
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": TABLE,
            "Key": {"pk": key},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        },
        "ResultPath": None,
    }


def reading(key: str | None = None, key_path: str | None = None, **state: Any) -> dict[str, Any]:
    """A Task that fails (S3.NoSuchKey) until the object is there, then gives its text as ``got``."""
    parameters = {"Bucket": BUCKET, **({"Key": key} if key is not None else {"Key.$": key_path})}
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": parameters,
        "ResultSelector": {"body.$": "$.Body"},
        "ResultPath": "$.got",
        **state,
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def runs(cloud: LocalCloud, counter: str) -> int:
    item = cloud.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": counter}}).get("Item")
    return int(item["n"]["N"]) if item else 0


def clear_fault(cloud: LocalCloud, key: str, body: str = "fixed") -> None:
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def redrive(run: Runner, arn: str, **kwargs: Any) -> Run:
    run.sfn.redrive_execution(executionArn=arn, **kwargs)
    return run.finish(arn)


def after_last_redrive(result: Run) -> list[dict[str, Any]]:
    marks = [i for i, e in enumerate(result.events) if e["type"] == "ExecutionRedriven"]
    assert marks, f"no ExecutionRedriven event: {result.summary()}"
    return result.events[marks[-1] + 1 :]


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def not_redrivable(run: Runner, arn: str) -> str:
    with pytest.raises(ClientError) as refused:
        run.sfn.redrive_execution(executionArn=arn)
    assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    return str(refused.value.response["Error"]["Message"])


# --- what reruns, and what does not ----------------------------------------------------------
def test_a_redriven_task_reruns_and_the_states_before_it_do_not(run: Runner, cloud: LocalCloud) -> None:
    """A Pass then a Task: the execution fails at the Task; a redrive reruns the Task only, with the
    input it got, and keeps the Pass's result (developer guide, "Redriving executions")."""
    counter, key = unique("before"), unique("task")
    definition = chain(
        {"Type": "Pass", "Result": {"kept": True}, "ResultPath": "$.pass"},
        counted(counter),
        reading(key),
    )
    first = run(definition, {"order": 7})
    assert first.status == "FAILED" and "NoSuchKey" in str(first.error), first.summary()
    failed_input = next(
        e["stateEnteredEventDetails"]["input"]
        for e in first.events
        if e.get("stateEnteredEventDetails", {}).get("name") == "S2"
    )
    clear_fault(cloud, key, "hello")
    second = redrive(run, first.arn)
    assert second.status == "SUCCEEDED", second.summary()
    assert second.output == {"order": 7, "pass": {"kept": True}, "got": {"body": "hello"}}
    assert runs(cloud, counter) == 1  # the Task that succeeded did not run again
    redriven = after_last_redrive(second)
    assert entered(redriven) == ["S2"]
    assert redriven[0]["stateEnteredEventDetails"]["input"] == failed_input
    described = run.sfn.describe_execution(executionArn=first.arn)
    assert (described["executionArn"], json.loads(described["input"])) == (first.arn, {"order": 7})


def test_a_redrive_keeps_the_variables_the_states_that_succeeded_assigned(
    run: Runner, cloud: LocalCloud
) -> None:
    """Successful steps are not rerun and their results are preserved: workflow variables too
    (RedriveExecution; variables are the states' results kept for later states)."""
    key = unique("variables")
    definition = chain(
        {"Type": "Pass", "Assign": {"x": 5, "who": "ada"}},
        reading(key),
        {"Type": "Pass", "Parameters": {"x.$": "$x", "who.$": "$who", "got.$": "$.got"}},
    )
    first = run(definition, {})
    assert first.status == "FAILED", first.summary()
    clear_fault(cloud, key)
    second = redrive(run, first.arn)
    assert second.status == "SUCCEEDED", second.summary()
    assert second.output == {"x": 5, "who": "ada", "got": {"body": "fixed"}}


def test_a_parallel_state_reruns_only_its_failed_branch(run: Runner, cloud: LocalCloud) -> None:
    """Parallel: a redrive reschedules and redrives only the branches that failed or aborted;
    in the failed branch, its steps that succeeded are not rerun (RedriveExecution)."""
    quick, slow, key = unique("branch-a"), unique("branch-b"), unique("parallel")
    definition = chain(
        {
            "Type": "Parallel",
            "Branches": [
                branch(counted(quick), {"Type": "Pass", "Result": "a"}, prefix="A"),
                branch(
                    counted(slow),
                    {"Type": "Wait", "Seconds": 20},  # 0.2 s: the other branch is done by then
                    {**reading(key), "OutputPath": "$.got.body"},
                    prefix="B",
                ),
            ],
        }
    )
    first = run(definition, {})
    assert first.status == "FAILED", first.summary()
    assert (runs(cloud, quick), runs(cloud, slow)) == (1, 1)
    clear_fault(cloud, key, "b")
    second = redrive(run, first.arn)
    assert second.status == "SUCCEEDED", second.summary()
    assert second.output == ["a", "b"]  # the first branch's result, kept from the first attempt
    assert (runs(cloud, quick), runs(cloud, slow)) == (1, 1)
    assert entered(after_last_redrive(second)) == ["S", "BS2"]  # the Parallel, and the failed step


def test_an_inline_map_reruns_only_its_failed_and_unstarted_iterations(
    run: Runner, cloud: LocalCloud
) -> None:
    """Inline Map: a redrive reruns only the iterations that failed or aborted (RedriveExecution);
    one at a time, the third iteration never started in the first attempt."""
    prefix = unique("map")
    for i in (0, 2):
        clear_fault(cloud, f"{prefix}-{i}", f"item {i}")
    iteration = branch(
        counted(counter_path=f"States.Format('{prefix}-{{}}', $.i)"),
        {**reading(key_path=f"States.Format('{prefix}-{{}}', $.i)"), "OutputPath": "$.got.body"},
    )
    definition = chain({"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": iteration})
    first = run(definition, [{"i": 0}, {"i": 1}, {"i": 2}])
    assert first.status == "FAILED", first.summary()
    assert [runs(cloud, f"{prefix}-{i}") for i in range(3)] == [1, 1, 0]
    clear_fault(cloud, f"{prefix}-1", "item 1")
    second = redrive(run, first.arn)
    assert second.status == "SUCCEEDED", second.summary()
    assert second.output == ["item 0", "item 1", "item 2"]
    assert [runs(cloud, f"{prefix}-{i}") for i in range(3)] == [1, 1, 1]
    started = [
        e["mapIterationStartedEventDetails"]["index"]
        for e in after_last_redrive(second)
        if e["type"] == "MapIterationStarted"
    ]
    assert started == [1, 2]


def test_a_caught_error_has_exited_its_state_so_a_redrive_reruns_the_fail_state_alone(
    run: Runner, cloud: LocalCloud
) -> None:
    """A state is unsuccessful when its Entered event has no Exited event ("Redriving Map Runs"): a
    Task whose error a Catch sent to a Fail state exited, so the redrive reruns the Fail state only."""
    counter, key = unique("caught"), unique("caught")
    definition = {
        "StartAt": "Count",
        "States": {
            "Count": {**counted(counter), "Next": "Read"},
            "Read": reading(key, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], End=True),
            "Failed": {"Type": "Fail", "Error": "StepFailed", "Cause": "Read failed"},
        },
    }
    first = run(definition, {})
    assert (first.status, first.error) == ("FAILED", "StepFailed"), first.summary()
    clear_fault(cloud, key)  # too late for this execution: Read has exited through its Catch
    second = redrive(run, first.arn)
    assert (second.status, second.error) == ("FAILED", "StepFailed"), second.summary()
    assert entered(after_last_redrive(second)) == ["Failed"]
    assert runs(cloud, counter) == 1


def test_a_redrive_runs_the_definition_the_execution_started_with(run: Runner, cloud: LocalCloud) -> None:
    """Redriven executions use the same state machine definition as the original attempt, even after
    the machine is updated (developer guide, "Redriving executions")."""
    key = unique("definition")
    machine = run.create(chain({"Type": "Pass", "Result": "v1", "ResultPath": "$.v"}, reading(key)))
    arn = run.start(machine, {})
    assert run.finish(arn).status == "FAILED"
    run.sfn.update_state_machine(
        stateMachineArn=machine,
        definition=json.dumps(chain({"Type": "Pass", "Result": "v2", "ResultPath": "$.v"}, PASS)),
    )
    clear_fault(cloud, key)
    second = redrive(run, arn)
    assert second.status == "SUCCEEDED", second.summary()
    assert second.output == {"v": "v1", "got": {"body": "fixed"}}


def test_an_aborted_execution_is_redriven_from_the_state_it_was_stopped_in(
    run: Runner, cloud: LocalCloud
) -> None:
    """ABORTED executions are redrivable (RedriveExecution: failed, aborted or timed out); the state
    that was running had not exited, so it runs again."""
    counter = unique("aborted")
    machine = run.create(
        chain(counted(counter), {"Type": "Wait", "Seconds": 200}, {"Type": "Pass", "Result": 1})
    )
    arn = run.start(machine, {})
    deadline = time.monotonic() + 30
    while "S1" not in entered(run.sfn.get_execution_history(executionArn=arn)["events"]):
        assert time.monotonic() < deadline, "the Wait was never entered"
        time.sleep(0.02)
    run.sfn.stop_execution(executionArn=arn)
    assert run.finish(arn).status == "ABORTED"
    second = redrive(run, arn)
    assert (second.status, second.output) == ("SUCCEEDED", 1), second.summary()
    assert entered(after_last_redrive(second)) == ["S1", "S2"]
    assert runs(cloud, counter) == 1


SLOW_FAILURE = """
import time


def handler(event, context):
    time.sleep(event["seconds"])
    raise RuntimeError("the dependency is down")
"""


def test_a_stopped_execution_stays_aborted_when_its_task_fails_afterwards(
    run: Runner, cloud: LocalCloud
) -> None:
    """StopExecution aborts the execution: the Task it was stopped in failing later does not make it
    FAILED (StopExecution), and the redrive reruns that Task, with the input it had."""
    role = cloud.client("iam").create_role(RoleName="conformance-redrive", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", SLOW_FAILURE)
    function = cloud.client("lambda").create_function(
        FunctionName="conformance-slow-failure",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=30,
    )["FunctionArn"]
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": {"seconds.$": "$.seconds"}},
    }
    arn = run.start(run.create(chain(task)), {"seconds": 1.5})
    deadline = time.monotonic() + 30
    while "TaskStarted" not in [e["type"] for e in run.sfn.get_execution_history(executionArn=arn)["events"]]:
        assert time.monotonic() < deadline, "the Task never started"
        time.sleep(0.02)
    run.sfn.stop_execution(executionArn=arn)
    stopped = run.finish(arn)
    assert stopped.status == "ABORTED", stopped.summary()
    assert stopped.of_type("ExecutionAborted") and not stopped.of_type("ExecutionFailed")
    again = redrive(run, arn, clientToken="rerun")
    assert (again.status, again.error) == ("FAILED", "RuntimeError"), again.summary()
    [entry] = [e for e in after_last_redrive(again) if "stateEnteredEventDetails" in e]
    assert json.loads(entry["stateEnteredEventDetails"]["input"]) == {"seconds": 1.5}


def test_a_redrive_resets_the_machine_timeout(run: Runner, cloud: LocalCloud) -> None:
    """TIMED_OUT executions are redrivable, and "the state machine level timeout [...] is reset to 0"
    (developer guide): two 300 s Waits overrun a 10 s timeout (5 s here, its floor) together, one alone
    does not."""
    definition = chain({"Type": "Wait", "Seconds": 300}, {"Type": "Wait", "Seconds": 300}, TimeoutSeconds=10)
    first = run(definition, {})
    assert first.status == "TIMED_OUT", first.summary()
    second = redrive(run, first.arn)
    assert second.status == "SUCCEEDED", second.summary()
    assert entered(after_last_redrive(second)) == ["S1"]


# --- what DescribeExecution, ListExecutions and the history say ----------------------------------
def test_redrive_count_date_and_status_are_described_and_the_history_marks_each_redrive(
    run: Runner, cloud: LocalCloud
) -> None:
    """DescribeExecution: redriveCount is 0 until a redrive and counts each; redriveDate is the last
    redrive's; redriveStatus REDRIVABLE or NOT_REDRIVABLE with its reason. The history gets an
    ExecutionRedriven event with the count (ExecutionRedrivenEventDetails)."""
    key = unique("count")
    first = run(chain(reading(key)), {})
    described = run.sfn.describe_execution(executionArn=first.arn)
    assert (described["redriveCount"], described["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveDate" not in described and "redriveStatusReason" not in described
    answers = []
    for _ in range(2):  # it fails again: the fault is still there
        answers.append(run.sfn.redrive_execution(executionArn=first.arn)["redriveDate"])
        assert run.finish(first.arn).status == "FAILED"
    clear_fault(cloud, key)
    answers.append(run.sfn.redrive_execution(executionArn=first.arn)["redriveDate"])
    done = run.finish(first.arn)
    assert done.status == "SUCCEEDED", done.summary()
    described = run.sfn.describe_execution(executionArn=first.arn)
    assert described["redriveCount"] == 3
    assert described["redriveDate"] == answers[-1]
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE",
        "Execution is SUCCEEDED and cannot be redriven",
    )
    marks = [e["executionRedrivenEventDetails"]["redriveCount"] for e in done.of_type("ExecutionRedriven")]
    assert marks == [1, 2, 3]
    assert [e["type"] for e in done.events].count("ExecutionFailed") == 3  # the history is appended to
    assert [e["id"] for e in done.events] == list(range(1, len(done.events) + 1))


def test_list_executions_filters_by_redrive_and_gives_each_count(run: Runner, cloud: LocalCloud) -> None:
    """ListExecutions' redriveFilter: REDRIVEN or NOT_REDRIVEN; each item has its redriveCount
    (0 if never redriven) and, once redriven, its redriveDate (ListExecutions, ExecutionListItem)."""
    key = unique("listed")
    machine = run.create(chain(reading(key)))
    redriven, left = run.start(machine, {}), run.start(machine, {})
    assert run.finish(redriven).status == run.finish(left).status == "FAILED"
    clear_fault(cloud, key)
    redrive(run, redriven)

    def listed(**kwargs: Any) -> dict[str, dict[str, Any]]:
        page = run.sfn.list_executions(stateMachineArn=machine, **kwargs)["executions"]
        return {item["executionArn"]: item for item in page}

    assert set(listed(redriveFilter="REDRIVEN")) == {redriven}
    assert set(listed(redriveFilter="NOT_REDRIVEN")) == {left}
    everything = listed()
    assert (everything[redriven]["redriveCount"], everything[left]["redriveCount"]) == (1, 0)
    assert "redriveDate" in everything[redriven] and "redriveDate" not in everything[left]
    assert set(listed(redriveFilter="NOT_REDRIVEN", statusFilter="FAILED")) == {left}
    with pytest.raises(ClientError, match="redriveFilter"):
        run.sfn.list_executions(stateMachineArn=machine, redriveFilter="SOMETIMES")


def test_the_same_client_token_answers_the_same_redrive(run: Runner, cloud: LocalCloud) -> None:
    """clientToken: "The API will return idempotent responses for the last 10 client tokens used to
    successfully redrive the execution" (RedriveExecutionInput): a repeat does not redrive again."""
    key = unique("token")
    first = run(chain(reading(key)), {})
    clear_fault(cloud, key)
    answer = run.sfn.redrive_execution(executionArn=first.arn, clientToken="redrive-once")
    again = run.sfn.redrive_execution(executionArn=first.arn, clientToken="redrive-once")
    assert again["redriveDate"] == answer["redriveDate"]
    assert run.finish(first.arn).status == "SUCCEEDED"
    later = run.sfn.redrive_execution(executionArn=first.arn, clientToken="redrive-once")
    assert later["redriveDate"] == answer["redriveDate"]  # within 15 minutes: still the same answer
    assert run.sfn.describe_execution(executionArn=first.arn)["redriveCount"] == 1
    assert "SUCCEEDED" in not_redrivable(run, first.arn)  # a new token: a new request, refused


# --- what is not redrivable -----------------------------------------------------------------------
def test_a_succeeded_execution_is_not_redrivable(run: Runner) -> None:
    """The execution status isn't SUCCEEDED (RedriveExecution's conditions); DescribeExecution says
    NOT_REDRIVABLE, "Execution is SUCCEEDED and cannot be redriven"."""
    done = run(chain(PASS), {})
    assert "Execution is SUCCEEDED and cannot be redriven" in not_redrivable(run, done.arn)
    described = run.sfn.describe_execution(executionArn=done.arn)
    assert (described["redriveStatus"], described["redriveCount"]) == ("NOT_REDRIVABLE", 0)


def test_a_running_execution_is_not_redrivable(run: Runner) -> None:
    """Only executions that ended unsuccessfully are redriven: "Execution is RUNNING and cannot be
    redriven" (DescribeExecution's redriveStatusReason)."""
    machine = run.create(chain({"Type": "Wait", "Seconds": 3000}))
    arn = run.start(machine, {})
    try:
        assert "Execution is RUNNING and cannot be redriven" in not_redrivable(run, arn)
        described = run.sfn.describe_execution(executionArn=arn)
        assert described["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    finally:
        run.sfn.stop_execution(executionArn=arn)


def test_an_express_execution_is_not_redrivable(run: Runner, cloud: LocalCloud) -> None:
    """ "This API action is not supported by EXPRESS state machines" (RedriveExecution)."""
    key = unique("express")
    machine = run.create(chain(reading(key)), machine_type="EXPRESS")
    arn = run.start(machine, {})
    assert run.finish(arn).status == "FAILED"
    assert "EXPRESS" in not_redrivable(run, arn)


def test_an_execution_past_its_redrivable_period_is_not_redrivable(run: Runner, cloud: LocalCloud) -> None:
    """Redrivable for 14 days from the execution's end: then NOT_REDRIVABLE, "Execution redrivable
    period exceeded" (RedriveExecution, DescribeExecution). The execution's end is moved 15 days back:
    no test waits two weeks."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    first = run(chain(reading(unique("old"))), {})
    execution = stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(first.arn)
    execution.stop_date = datetime.now(UTC) - timedelta(days=15)
    described = run.sfn.describe_execution(executionArn=first.arn)
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE",
        "Execution redrivable period exceeded",
    )
    assert "Execution redrivable period exceeded" in not_redrivable(run, first.arn)


def test_a_failed_distributed_map_is_refused_loudly_as_the_local_cloud_cannot_redrive_map_runs(
    run: Runner, cloud: LocalCloud
) -> None:
    """AWS redrives a failed Distributed Map's Map Run, rerunning only its unsuccessful children
    ("Redriving Map Runs"); the local cloud cannot, and says so rather than rerun them all."""
    key = unique("distributed")
    processor = branch(reading(key))
    processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    first = run(chain({"Type": "Map", "ItemProcessor": processor}), [{}, {}])
    assert first.status == "FAILED", first.summary()
    described = run.sfn.describe_execution(executionArn=first.arn)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert "Distributed Map state 'S'" in described["redriveStatusReason"]
    assert "Distributed Map state 'S'" in not_redrivable(run, first.arn)
    # And a child execution of the Map Run is the Map Run's to redrive (DescribeExecution)
    [map_run] = run.sfn.list_map_runs(executionArn=first.arn)["mapRuns"]
    failed = run.sfn.list_executions(mapRunArn=map_run["mapRunArn"], statusFilter="FAILED")["executions"]
    child = run.sfn.describe_execution(executionArn=failed[0]["executionArn"])
    assert child["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    assert "Map Run" in not_redrivable(run, child["executionArn"])
