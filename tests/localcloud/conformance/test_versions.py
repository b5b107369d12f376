"""Executions of a version or an alias: which they are associated with (developer guide).

"If your qualified ARN refers to version 3, Step Functions associates the execution with
this version. It doesn't associate the execution with any aliases that point to the
version 3. If your qualified ARN refers to an alias, Step Functions associates the
execution with that alias and the version to which the alias points."
"""

from __future__ import annotations

import json
import uuid

from tests.localcloud.conformance.conftest import ROLE, Runner

DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_an_execution_names_the_alias_and_the_version_it_was_started_through(run: Runner) -> None:
    sfn = run.sfn
    created = sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION), roleArn=ROLE, publish=True
    )
    machine, version = created["stateMachineArn"], created["stateMachineVersionArn"]
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}]
    )["stateMachineAliasArn"]
    described = {}
    for started_with in (alias, version, machine):
        arn = run.start(started_with, {})
        run.finish(arn)
        described[started_with] = sfn.describe_execution(executionArn=arn)
    # Then through the alias: the alias and its version; through the version: the version alone
    assert (described[alias]["stateMachineAliasArn"], described[alias]["stateMachineVersionArn"]) == (
        alias,
        version,
    )
    assert described[version]["stateMachineVersionArn"] == version
    assert "stateMachineAliasArn" not in described[version]
    # And through the unqualified ARN, neither
    assert not {"stateMachineAliasArn", "stateMachineVersionArn"} & set(described[machine])
