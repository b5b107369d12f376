"""`python -m aiflows runs redrive`: the runs named, or a flow's failed runs in a window, redriven.

Against the local cloud, with a stack of one flow: its runs read an S3 object that is put only
once the "fault" is cleared; one route of the flow catches that error into a Fail state, as the
woven failure path does, so that a run of it ended in its Fail state.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aiflows.cli import main
from aiflows.testing import history
from localcloud import LocalCloud

STACK = "RedriveCommand"
BUCKET = "redrive-command"
KEY = "fault-cleared.txt"
ROLE = "arn:aws:iam::123456789012:role/redrive-command"


def read(**state: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": BUCKET, "Key": KEY},
        "ResultSelector": {"body.$": "$.Body"},
        "ResultPath": "$.got",
        "End": True,
        **state,
    }


DEFINITION = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.caught", "BooleanEquals": True, "Next": "ReadCaught"}],
            "Default": "Receive",
        },
        "Receive": {"Type": "Pass", "Result": "received", "ResultPath": "$.received", "Next": "Read"},
        "Read": read(),
        "ReadCaught": read(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "StepFailed"}]),
        "StepFailed": {"Type": "Fail", "Error": "StepFailed", "Cause": "Read failed"},
    },
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=0.01) as running:
        yield running


@pytest.fixture(scope="module")
def machine(cloud: LocalCloud) -> str:
    """The flow's state machine, named by the stack output the operations commands read."""
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    arn = str(
        cloud.client("stepfunctions").create_state_machine(
            name="redrive-command", definition=json.dumps(DEFINITION), roleArn=ROLE
        )["stateMachineArn"]
    )
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"DocumentIntakeStateMachineArn": {"Value": arn}},
    }
    cloud.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return arn


def failed_run(cloud: LocalCloud, machine: str, caught: bool = False) -> str:
    sfn = cloud.client("stepfunctions")
    arn = str(
        sfn.start_execution(
            stateMachineArn=machine, name=str(uuid.uuid4()), input=json.dumps({"caught": caught})
        )["executionArn"]
    )
    assert cloud.wait_for_execution(arn)["status"] == "FAILED"
    return arn


def aiflows(cloud: LocalCloud, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command line, as a person runs it against the local cloud: (exit code, stdout, stderr)."""
    code = main([*argv, "--stack", STACK, "--endpoint-url", cloud.endpoint])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def fault(cloud: LocalCloud, machine: str) -> Iterator[None]:
    """Each test starts with the fault present: the object the runs read is not there."""
    cloud.client("s3").delete_object(Bucket=BUCKET, Key=KEY)
    yield
    cloud.client("s3").delete_object(Bucket=BUCKET, Key=KEY)


def clear_fault(cloud: LocalCloud) -> None:
    cloud.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=b"back")


def test_a_named_run_is_redriven_from_the_step_that_failed(
    cloud: LocalCloud, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run that failed at Read, and the fault since cleared
    arn = failed_run(cloud, machine)
    clear_fault(cloud)
    # When it is redriven by its ARN
    code, out, err = aiflows(cloud, capsys, "runs", "redrive", arn)
    # Then the command says where it restarts, and the run goes on from there to its end
    assert code == 0, err
    assert f"{arn}\n    redriven: restarts at Read, with the input it had" in out
    done = cloud.wait_for_execution(arn)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert json.loads(done["output"]) == {"caught": False, "received": "received", "got": {"body": "back"}}
    names = [
        e["stateEnteredEventDetails"]["name"] for e in history(cloud, arn) if "stateEnteredEventDetails" in e
    ]
    assert names == ["Route", "Receive", "Read", "Read"]  # Route and Receive ran once


def test_a_succeeded_run_is_refused_with_why(
    cloud: LocalCloud, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run that succeeded
    clear_fault(cloud)
    sfn = cloud.client("stepfunctions")
    arn = str(sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"])
    assert cloud.wait_for_execution(arn)["status"] == "SUCCEEDED"
    # When someone asks to redrive it, Then the command refuses, and says why
    code, _, err = aiflows(cloud, capsys, "runs", "redrive", arn)
    assert code == 1
    assert (
        f"error: {arn} cannot be redriven: it SUCCEEDED: a redrive restarts a run that failed, "
        "timed out or was aborted"
    ) in err
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 0


def test_a_run_that_ended_in_its_fail_state_is_refused_because_a_redrive_fails_again(
    cloud: LocalCloud, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run whose failing step was caught into its Fail state
    arn = failed_run(cloud, machine, caught=True)
    clear_fault(cloud)
    # When someone asks to redrive it, Then the command refuses: only StepFailed would run again
    code, _, err = aiflows(cloud, capsys, "runs", "redrive", arn)
    assert code == 1
    assert "it ended in its Fail state StepFailed" in err
    assert "a redrive would run StepFailed alone, which fails again" in err
    assert "submit the document again" in err


def test_what_is_not_a_run_is_refused_with_what_to_give(
    cloud: LocalCloud, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = aiflows(cloud, capsys, "runs", "redrive", "rv-2k7m9q4x")
    assert (code, "'rv-2k7m9q4x' is not an execution ARN" in err) == (1, True)
    gone = machine.replace(":stateMachine:", ":execution:") + ":never-started"
    code, _, err = aiflows(cloud, capsys, "runs", "redrive", gone)
    assert (code, f"no run {gone}" in err) == (1, True)
    code, _, err = aiflows(cloud, capsys, "runs", "redrive")
    assert (code, "give the execution ARNs of the runs to redrive, or --failed-since-hours N" in err) == (
        2,
        True,
    )
    code, _, err = aiflows(cloud, capsys, "runs", "redrive", gone, "--failed-since-hours", "1")
    assert (code, "not both" in err) == (2, True)


def test_a_window_of_failed_runs_is_listed_by_a_dry_run_then_redriven(
    cloud: LocalCloud, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the flow's failed runs of the last hour: one failed at its step, one ended in its Fail state
    sfn = cloud.client("stepfunctions")
    stopped, caught = failed_run(cloud, machine), failed_run(cloud, machine, caught=True)
    clear_fault(cloud)
    # When a dry run lists what a redrive would do
    code, out, err = aiflows(cloud, capsys, "runs", "redrive", "--failed-since-hours", "1", "--dry-run")
    assert code == 0, err
    assert f"{stopped}\n    would be redriven: restarts at Read" in out
    assert f"{caught}\n    not redriven: it ended in its Fail state StepFailed" in out
    assert all(sfn.describe_execution(executionArn=a)["redriveCount"] == 0 for a in (stopped, caught))
    # Then the redrive takes on the run it can, leaves the other, and says so for each
    code, out, err = aiflows(cloud, capsys, "runs", "redrive", "--failed-since-hours", "1")
    assert code == 0, err
    assert f"{stopped}\n    redriven: restarts at Read" in out
    assert f"{caught}\n    not redriven: it ended in its Fail state StepFailed" in out
    taken, left = out.count("\n    redriven: "), out.count("\n    not redriven: ")
    assert f"{taken} run(s) redriven, {left} not, of {taken + left} failed in the last 1 h" in out
    assert cloud.wait_for_execution(stopped)["status"] == "SUCCEEDED"
    assert sfn.describe_execution(executionArn=caught)["redriveCount"] == 0
    # And the runs listed failed are, from now on, only those still failed
    code, out, _ = aiflows(cloud, capsys, "runs", "failed", "--hours", "1")
    assert stopped not in out and caught in out
