"""Express executions.

Sources: the API reference of StartExecution and StartSyncExecution, the developer guide
page "Accessing execution data from the Context object" ($$.Execution.Id is the
execution's ARN), and the Express execution ARNs shown in AWS's samples
(arn:aws:states:<region>:<account>:express:<state machine>:<execution name>:<id>).
"""

from __future__ import annotations

import json
from typing import Any

from tests.localcloud.conformance.conftest import ACCOUNT, REGION, Runner, single

ECHO = single({"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name"}})


def express(run: Runner) -> tuple[str, str]:
    machine = run.create(ECHO, machine_type="EXPRESS")
    return machine, machine.rsplit(":", 1)[1]


def express_arn_parts(arn: str, machine_name: str, name: str) -> list[str]:
    prefix = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine_name}:{name}:"
    assert arn.startswith(prefix), arn
    return arn[len(prefix) :].split(":")


def test_an_express_execution_arn_has_the_express_form(run: Runner) -> None:
    """An EXPRESS machine's execution ARN is …:express:<machine>:<name>:<id> (AWS's Express samples)."""
    machine, machine_name = express(run)
    arn = run.sfn.start_execution(stateMachineArn=machine, name="express-async", input="{}")["executionArn"]
    [execution_id] = express_arn_parts(arn, machine_name, "express-async")
    assert execution_id


def test_execution_id_in_the_context_is_the_express_execution_arn(run: Runner) -> None:
    """$$.Execution.Id is the execution's ARN, in its express form (Context object; StartSyncExecution)."""
    machine, machine_name = express(run)
    answer: dict[str, Any] = run.sfn.start_sync_execution(
        stateMachineArn=machine, name="express-sync", input="{}"
    )
    assert answer["status"] == "SUCCEEDED", answer
    express_arn_parts(answer["executionArn"], machine_name, "express-sync")
    assert json.loads(answer["output"]) == {"id": answer["executionArn"], "name": "express-sync"}
