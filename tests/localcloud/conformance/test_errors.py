"""Errors, their names and how Retry and Catch match them.

Sources: the ASL spec ("Error Handling", "Appendix A: Predefined Error Codes"), the
developer guide page "Handling errors in Step Functions workflows" ("error page") and
"Distributed Map state fields" (failure thresholds).
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.conformance.conftest import (
    PASS,
    Case,
    Runner,
    branch,
    cases,
    chain,
    check,
    fail,
    single,
)

BUCKET = "conformance-errors"


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(scope="module")
def queue(cloud: LocalCloud) -> str:
    return str(cloud.client("sqs").create_queue(QueueName="conformance-errors")["QueueUrl"])


def missing_object(**state: Any) -> dict[str, Any]:
    """A Task that fails: it reads an object that is not in the bucket."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": BUCKET, "Key": "no-such-key"},
        **state,
    }


def raising(error: str, cause: str = "why", **state: Any) -> dict[str, Any]:
    """A Parallel whose only branch ends in a Fail state: the Parallel reports ``error``."""
    return {"Type": "Parallel", "Branches": [branch(fail(error, cause))], **state}


def caught(by: str) -> dict[str, Any]:
    """A Pass that tells which catcher's Next ran, and the error it caught."""
    return {"Type": "Pass", "Parameters": {"by": by, "error.$": "$.Error"}, "End": True}


def catching(state: dict[str, Any], catchers: list[tuple[list[str], str]]) -> dict[str, Any]:
    """A machine of ``state`` with catchers going to Pass states named after each catcher."""
    states: dict[str, Any] = {
        "S": {**state, "Catch": [{"ErrorEquals": e, "Next": n} for e, n in catchers], "End": True}
    }
    for _, name in catchers:
        states[name] = caught(name)
    return {"StartAt": "S", "States": states}


CASES = cases(
    Case(
        "A Fail in a Parallel branch: its Error and Cause reach the "
        "Parallel's Catch (ASL spec, Parallel State)",
        chain(
            raising("BranchError", "in a branch", Catch=[{"ErrorEquals": ["BranchError"], "Next": "S1"}]),
            PASS,
        ),
        {},
        {"Error": "BranchError", "Cause": "in a branch"},
    ),
    Case(
        "A Fail in a Map iteration: its Error and Cause reach the Map's Catch (ASL spec, Map State)",
        chain(
            {
                "Type": "Map",
                "ItemProcessor": branch(fail("ItemError", "in an iteration")),
                "Catch": [{"ErrorEquals": ["ItemError"], "Next": "S1"}],
            },
            PASS,
        ),
        [1],
        {"Error": "ItemError", "Cause": "in an iteration"},
    ),
    Case(
        "An unhandled branch error fails the execution with the "
        "branch's error and cause (ASL spec, Parallel)",
        single(raising("BranchError", "in a branch")),
        {},
        error="BranchError",
        cause="in a branch",
    ),
    Case(
        "An unhandled iteration error fails the execution with its error and cause (ASL spec, Map State)",
        single({"Type": "Map", "ItemProcessor": branch(fail("ItemError", "in an iteration"))}),
        [1, 2],
        error="ItemError",
        cause="in an iteration",
    ),
    Case(
        "States.ALL matches any error name (ASL spec, Appendix A)",
        catching(raising("Anything"), [(["States.ALL"], "All")]),
        {},
        {"by": "All", "error": "Anything"},
    ),
    Case(
        "Catchers are scanned in array order: the first that matches wins (ASL spec, Fallback states)",
        catching(
            raising("Custom"), [(["Other"], "First"), (["Custom"], "Second"), (["States.ALL"], "Third")]
        ),
        {},
        {"by": "Second", "error": "Custom"},
    ),
    Case(
        "A Catcher may list several error names (ASL spec, Fallback states)",
        catching(raising("Two"), [(["One", "Two"], "Either")]),
        {},
        {"by": "Either", "error": "Two"},
    ),
    Case(
        "Error names are case-sensitive: custom does not catch Custom (ASL spec, Error representation)",
        catching(raising("Custom"), [(["custom"], "Lower"), (["States.ALL"], "All")]),
        {},
        {"by": "All", "error": "Custom"},
    ),
    Case(
        "Catch ResultPath injects the Error Output into the state's input (ASL spec, JSONPath Catchers)",
        chain(
            raising(
                "Oops", "bad", Catch=[{"ErrorEquals": ["Oops"], "ResultPath": "$.error-info", "Next": "S1"}]
            ),
            PASS,
        ),
        {"keep": 1},
        {"keep": 1, "error-info": {"Error": "Oops", "Cause": "bad"}},
    ),
    Case(
        "Catch without ResultPath: the output is the Error Output alone (ASL spec, default $)",
        chain(raising("Oops", "bad", Catch=[{"ErrorEquals": ["Oops"], "Next": "S1"}]), PASS),
        {"keep": 1},
        {"Error": "Oops", "Cause": "bad"},
    ),
    Case(
        "States.ResultPathMatchFailure: ResultPath $.x cannot apply to "
        'the input "foo" (ASL spec, JSONPath errors)',
        single({"Type": "Pass", "Result": 1, "ResultPath": "$.x"}),
        "foo",
        error="States.ResultPathMatchFailure",
    ),
    Case(
        "States.Runtime is not caught by States.ALL: InputPath on a "
        "null payload (error page, States.Runtime)",
        chain(
            {"Type": "Pass", "Result": None},
            {
                "Type": "Parallel",
                "InputPath": "$.x",
                "Branches": [branch(PASS)],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S2"}],
            },
            PASS,
        ),
        {},
        error="States.Runtime",
    ),
    Case(
        "States.DataLimitExceeded is a terminal error that States.ALL does not catch (error page)",
        chain(
            {
                "Type": "Parallel",
                "Branches": [branch({"Type": "Pass", "Parameters": {"a.$": "$.s"}}) for _ in range(2)],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S1"}],
            },
            PASS,
        ),
        {"s": "x" * 150_000},
        error="States.DataLimitExceeded",
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_errors_and_catchers(run: Runner, case: Case) -> None:
    check(run, case)


def test_states_task_failed_matches_a_failing_task(run: Runner, bucket: str) -> None:
    """States.TaskFailed matches a Task State that failed during the execution (ASL spec, Appendix A)."""
    result = run(catching(missing_object(), [(["States.TaskFailed"], "Failed")]), {})
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output["by"] == "Failed"


def test_states_task_failed_does_not_match_states_timeout(run: Runner, queue: str) -> None:
    """States.TaskFailed matches any known error name except States.Timeout (error page)."""
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "TimeoutSeconds": 1,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
    }
    result = run(catching(task, [(["States.TaskFailed"], "Failed"), (["States.Timeout"], "TimedOut")]), {})
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output == {"by": "TimedOut", "error": "States.Timeout"}


def test_a_callback_task_that_runs_longer_than_timeout_seconds_fails_with_states_timeout(
    run: Runner, queue: str
) -> None:
    """States.Timeout: a Task State ran longer than the TimeoutSeconds value (ASL spec, Appendix A)."""
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "TimeoutSeconds": 1,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
    }
    result = run(single(task), {})
    assert (result.status, result.error) == ("FAILED", "States.Timeout"), result.summary()


def test_a_callback_task_without_heartbeats_fails_with_states_heartbeat_timeout(
    run: Runner, queue: str
) -> None:
    """States.HeartbeatTimeout: no heartbeat for longer than HeartbeatSeconds (ASL spec, Appendix A)."""
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "HeartbeatSeconds": 1,
        "TimeoutSeconds": 60,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
    }
    result = run(catching(task, [(["States.HeartbeatTimeout"], "Heartbeat")]), {})
    assert (result.status, result.output) == (
        "SUCCEEDED",
        {"by": "Heartbeat", "error": "States.HeartbeatTimeout"},
    ), result.summary()


def activity_worker(cloud: LocalCloud, activity: str, answer: str | None) -> threading.Thread:
    """A worker that takes one task of the activity and answers it (never, if ``answer`` is None)."""
    sfn = cloud.client("stepfunctions")

    def work() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                token = sfn.get_activity_task(activityArn=activity, workerName="conformance").get("taskToken")
            except ClientError:  # the execution's result tells what went wrong
                return
            if token:
                if answer is not None:
                    sfn.send_task_success(taskToken=token, output=answer)
                return
            time.sleep(0.05)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    return worker


def test_an_activity_task_that_runs_longer_than_timeout_seconds_fails_with_states_timeout(
    run: Runner, cloud: LocalCloud
) -> None:
    """States.Timeout: an activity task runs longer than TimeoutSeconds (ASL spec, Task Timeouts)."""
    activity = cloud.client("stepfunctions").create_activity(name="conformance-slow")["activityArn"]
    arn = run.start(run.create(single({"Type": "Task", "Resource": activity, "TimeoutSeconds": 1})), {})
    activity_worker(cloud, activity, answer=None).join(timeout=30)
    result = run.finish(arn)
    assert (result.status, result.error) == ("FAILED", "States.Timeout"), result.summary()


def test_an_activity_task_without_heartbeats_fails_with_states_heartbeat_timeout(
    run: Runner, cloud: LocalCloud
) -> None:
    """States.HeartbeatTimeout: an activity task sends no heartbeat within HeartbeatSeconds (ASL spec)."""
    activity = cloud.client("stepfunctions").create_activity(name="conformance-silent")["activityArn"]
    task = {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 1, "TimeoutSeconds": 60}
    arn = run.start(run.create(single(task)), {})
    activity_worker(cloud, activity, answer=None).join(timeout=30)
    result = run.finish(arn)
    assert (result.status, result.error) == ("FAILED", "States.HeartbeatTimeout"), result.summary()


def test_an_activity_worker_answer_is_the_task_result(run: Runner, cloud: LocalCloud) -> None:
    """Activity: the worker's SendTaskSuccess output is the task's result (ASL spec, Task State)."""
    activity = cloud.client("stepfunctions").create_activity(name="conformance-worker")["activityArn"]
    arn = run.start(
        run.create(single({"Type": "Task", "Resource": activity, "ResultPath": "$.answer"})), {"a": 1}
    )
    activity_worker(cloud, activity, answer='{"done": true}').join(timeout=30)
    result = run.finish(arn)
    assert (result.status, result.output) == ("SUCCEEDED", {"a": 1, "answer": {"done": True}}), (
        result.summary()
    )


def attempts(result: Any) -> int:
    return len(result.of_type("TaskFailed"))


def test_retry_makes_max_attempts_retries(run: Runner, bucket: str) -> None:
    """Retry: MaxAttempts is the maximum number of retry attempts, then the error goes on (ASL spec)."""
    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}]
    result = run(single(missing_object(Retry=retry)), {})
    assert result.status == "FAILED", result.summary()
    assert attempts(result) == 3


def test_retry_max_attempts_defaults_to_3(run: Runner, bucket: str) -> None:
    """Retry: MaxAttempts defaults to 3 (ASL spec, Retrying after error)."""
    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "BackoffRate": 1}]
    result = run(single(missing_object(Retry=retry)), {})
    assert result.status == "FAILED", result.summary()
    assert attempts(result) == 4


def test_retry_with_max_attempts_0_never_retries(run: Runner, bucket: str) -> None:
    """Retry: MaxAttempts 0 is legal and means the error is never retried (ASL spec, Retrying after error)."""
    retry = [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"]}]
    result = run(single(missing_object(Retry=retry)), {})
    assert result.status == "FAILED", result.summary()
    assert attempts(result) == 1


def test_the_first_matching_retrier_applies_and_when_spent_catch_takes_over(run: Runner, bucket: str) -> None:
    """Retry: the first matching retrier applies; its MaxAttempts spent, Catch takes over (ASL spec)."""
    state = missing_object(
        Retry=[
            {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1},
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 1},
        ]
    )
    result = run(catching(state, [(["States.ALL"], "Caught")]), {})
    assert (result.status, result.output["by"]) == ("SUCCEEDED", "Caught"), result.summary()
    assert attempts(result) == 2


def retry_gaps(result: Any) -> list[float]:
    """The seconds between each failure and the next attempt's scheduling, from the history."""
    stamps: list[tuple[str, datetime]] = [
        (e["type"], e["timestamp"]) for e in result.events if e["type"] in ("TaskFailed", "TaskScheduled")
    ]
    return [
        (later - failed).total_seconds()
        for (kind, failed), (next_kind, later) in itertools.pairwise(stamps)
        if kind == "TaskFailed" and next_kind == "TaskScheduled"
    ]


def test_backoff_rate_multiplies_the_interval_on_each_attempt(run: Runner, bucket: str) -> None:
    """Retry: BackoffRate multiplies the retry interval on each attempt, 5 s then 200 s (ASL spec)."""
    retry = [
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 5, "MaxAttempts": 2, "BackoffRate": 40}
    ]
    result = run(single(missing_object(Retry=retry)), {})
    first, second = retry_gaps(result)
    # A retrier waits at least its interval and a loaded machine only adds to it, so the
    # multiplied interval is a lower bound no amount of scheduling noise can fake.
    assert second >= 200 * run.cloud.time_scale, (first, second)


def test_max_delay_seconds_caps_the_interval(run: Runner, bucket: str) -> None:
    """Retry: MaxDelaySeconds caps the interval, 10 s then 10 s instead of 1,000 s (ASL spec, Retrier)."""
    retry = [
        {
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": 10,
            "MaxAttempts": 2,
            "BackoffRate": 100,
            "MaxDelaySeconds": 10,
        }
    ]
    result = run(single(missing_object(Retry=retry)), {})
    first, second = retry_gaps(result)
    assert second >= 10 * run.cloud.time_scale, (first, second)
    # Uncapped, the second wait would be 1,000 s (10 s at this scale): half of it is far
    # beyond any scheduling noise and far above the capped 10 s.
    assert second < 500 * run.cloud.time_scale, (first, second)


def test_retries_then_catch_with_the_error_output(run: Runner, bucket: str) -> None:
    """Retry and Catch: retriers first, the matching Catcher only when retries fail to resolve (ASL spec)."""
    state = missing_object(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    result = run(catching(state, [(["States.TaskFailed"], "Caught")]), {})
    assert (result.status, result.output["by"]) == ("SUCCEEDED", "Caught"), result.summary()
    assert attempts(result) == 2


def distributed(tolerated: int, **extra: Any) -> dict[str, Any]:
    return single(
        {
            "Type": "Map",
            "ToleratedFailureCount": tolerated,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check",
                "States": {
                    "Check": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.ok", "BooleanEquals": False, "Next": "Broken"}],
                        "Default": "Fine",
                    },
                    "Broken": fail("ItemBroken", "item is broken"),
                    "Fine": {"Type": "Succeed"},
                },
            },
            **extra,
        }
    )


def test_a_distributed_map_over_its_tolerated_failure_count_fails_with_exceed_tolerated_failure_threshold(
    run: Runner,
) -> None:
    """Distributed Map, 1 failure over ToleratedFailureCount 0: ExceedToleratedFailureThreshold (ASL spec)."""
    result = run(distributed(0), [{"ok": True}, {"ok": False}, {"ok": True}])
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold"), (
        result.summary()
    )


def test_a_distributed_map_within_its_tolerated_failure_count_succeeds(run: Runner) -> None:
    """Distributed Map, 1 failure within ToleratedFailureCount 1: the Map succeeds (ASL spec)."""
    result = run(distributed(1), [{"ok": True}, {"ok": False}, {"ok": True}])
    assert result.status == "SUCCEEDED", result.summary()
