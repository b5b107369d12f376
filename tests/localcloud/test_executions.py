"""Executions as Step Functions starts them, where moto differs (each case names the AWS rule)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from localcloud import LocalCloud

NAMED = {
    "StartAt": "Name",
    "States": {"Name": {"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": True}},
}
ROLE = "arn:aws:iam::123456789012:role/sfn"


def named_machine(sfn: Any, name: str) -> str:
    """A machine whose one Pass state answers its execution's name."""
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(NAMED), roleArn=ROLE)["stateMachineArn"]
    )


def test_an_execution_started_without_a_name_is_named_with_a_uuid() -> None:
    # AWS StartExecution: "If you don't provide a name for the execution, Step Functions
    # automatically generates a universally unique identifier (UUID) as the execution name."
    # (moto names it "None", so a second unnamed start fails with ExecutionAlreadyExists.)
    with LocalCloud(time_scale=0.01) as cloud:
        sfn = cloud.client("stepfunctions")
        machine = named_machine(sfn, "unnamed")
        # When it is started twice without a name
        arns = [sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"] for _ in range(2)]
        # Then both run, each under a UUID of its own, which the run sees as $$.Execution.Name
        names = [arn.rsplit(":", 1)[1] for arn in arns]
        assert len(set(names)) == 2
        for arn, name in zip(arns, names, strict=True):
            assert str(uuid.UUID(name)) == name
            done = cloud.wait_for_execution(arn, timeout=30)
            assert done["status"] == "SUCCEEDED"
            assert json.loads(done["output"]) == {"name": name}


def test_a_fail_state_may_end_in_a_states_error() -> None:
    # AWS's Fail state: "Error (Optional) - An error name that you can provide to perform error
    # handling using Retry or Catch fields" — no prefix is reserved there. (moto refuses
    # "States." in it, and the execution fails with States.Runtime instead.)
    definition = {
        "StartAt": "Give up",
        "States": {"Give up": {"Type": "Fail", "Error": "States.Timeout", "Cause": "late"}},
    }
    with LocalCloud(time_scale=0.01) as cloud:
        sfn = cloud.client("stepfunctions")
        machine = sfn.create_state_machine(name="fails", definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
        done = cloud.wait_for_execution(
            sfn.start_execution(stateMachineArn=machine)["executionArn"], timeout=30
        )
        assert (done["status"], done["error"], done["cause"]) == ("FAILED", "States.Timeout", "late")


def test_waiting_for_more_executions_than_a_page_lists_sees_them_all() -> None:
    # ListExecutions answers a page at a time: maxResults "The default is 100 and the maximum allowed
    # page size is 1000"; "If nextToken is returned, there are more results available" (API reference).
    # A wait for more runs than a page holds reads every page.
    with LocalCloud(time_scale=0.01) as cloud:
        sfn = cloud.client("stepfunctions")
        machine = named_machine(sfn, "many")
        assert len(sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]) == 0
        started = {sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(105)}
        first_page = sfn.list_executions(stateMachineArn=machine)
        assert len(first_page["executions"]) < 105 and "nextToken" in first_page
        finished = cloud.wait_for_executions(machine, count=105, timeout=120)
        assert {e["executionArn"] for e in finished} == started
        assert {e["status"] for e in finished} == {"SUCCEEDED"}
