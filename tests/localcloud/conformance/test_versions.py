"""Executions of a version or an alias: which they are associated with (developer guide).

"If your qualified ARN refers to version 3, Step Functions associates the execution with
this version. It doesn't associate the execution with any aliases that point to the
version 3. If your qualified ARN refers to an alias, Step Functions associates the
execution with that alias and the version to which the alias points."
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

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


def test_a_machines_versions_are_listed_newest_first(run: Runner) -> None:
    """ListStateMachineVersions: "in descending order of the version creation time" (API ref)."""
    sfn = run.sfn
    created = sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION), roleArn=ROLE, publish=True
    )
    machine = created["stateMachineArn"]
    changed = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    second = sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(changed), publish=True)
    listed = sfn.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [
        second["stateMachineVersionArn"],
        created["stateMachineVersionArn"],
    ]
    paged = sfn.list_state_machine_versions(stateMachineArn=machine, maxResults=1)
    assert len(paged["stateMachineVersions"]) == 1 and paged["nextToken"]


@pytest.mark.parametrize(
    ("definition", "result", "code"),
    [
        (json.dumps(DEFINITION), "OK", None),
        ("{not json", "FAIL", "INVALID_JSON_DESCRIPTION"),
        (
            json.dumps(
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"states": 1}, "End": True}}}
            ),
            "FAIL",
            "SCHEMA_VALIDATION_FAILED",
        ),
    ],
)
def test_a_definition_is_validated_as_creating_it_would_be(
    run: Runner, definition: str, result: str, code: str | None
) -> None:
    """ValidateStateMachineDefinition: OK when the definition can be created, else FAIL with diagnostics."""
    answer = run.sfn.validate_state_machine_definition(definition=definition, type="STANDARD")
    assert answer["result"] == result
    assert [d["code"] for d in answer["diagnostics"]] == ([code] if code else [])
    if code:
        with pytest.raises(ClientError):  # and what it refuses, CreateStateMachine refuses too
            run.sfn.create_state_machine(
                name=f"v-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE
            )
