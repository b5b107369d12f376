"""Executions of a version or an alias: which they are associated with (developer guide).

"If your qualified ARN refers to version 3, Step Functions associates the execution with
this version. It doesn't associate the execution with any aliases that point to the
version 3. If your qualified ARN refers to an alias, Step Functions associates the
execution with that alias and the version to which the alias points."
"""

from __future__ import annotations

import json
import uuid
from typing import Any

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


def test_executions_are_listed_by_the_version_or_the_alias_they_are_associated_with(run: Runner) -> None:
    """ListExecutions: "You can also provide a state machine alias ARN or version ARN to list the
    executions associated with a specific alias or version" (API reference); an execution started
    through an alias is associated with the alias and its version, one started on a version with
    the version alone (developer guide)."""
    sfn = run.sfn
    created = sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION), roleArn=ROLE, publish=True
    )
    machine, first = created["stateMachineArn"], created["stateMachineVersionArn"]
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": first, "weight": 100}]
    )["stateMachineAliasArn"]
    changed = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    second = sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(changed), publish=True)[
        "stateMachineVersionArn"
    ]
    # Given a run through the alias, one on each version and one on the unqualified ARN
    started = {}
    for started_with in (alias, first, second, machine):
        started[started_with] = run.start(started_with, {})
        run.finish(started[started_with])

    def listed(arn: str, **kwargs: Any) -> list[dict[str, Any]]:
        return list(sfn.list_executions(stateMachineArn=arn, **kwargs)["executions"])

    # Then the alias lists the run it started, naming the alias and the version it picked
    (through_alias,) = listed(alias)
    assert through_alias["executionArn"] == started[alias]
    assert (through_alias["stateMachineAliasArn"], through_alias["stateMachineVersionArn"]) == (alias, first)
    # And a version lists the runs on it, through the alias too, most recent first
    assert [e["executionArn"] for e in listed(first)] == [started[first], started[alias]]
    assert [e["executionArn"] for e in listed(second)] == [started[second]]
    assert "stateMachineAliasArn" not in listed(second)[0]
    # And the unqualified ARN lists every run, each naming what it was associated with
    everything = {e["executionArn"]: e for e in listed(machine)}
    assert set(everything) == set(started.values())
    assert everything[started[first]]["stateMachineVersionArn"] == first
    assert not {"stateMachineAliasArn", "stateMachineVersionArn"} & set(everything[started[machine]])


def test_a_versions_executions_are_paged_and_filtered_as_the_machines_are(run: Runner) -> None:
    """ListExecutions' maxResults, nextToken and statusFilter hold for a version ARN too (API reference)."""
    sfn = run.sfn
    created = sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION), roleArn=ROLE, publish=True
    )
    version = created["stateMachineVersionArn"]
    arns = [run.start(version, {}) for _ in range(3)]
    for arn in arns:
        run.finish(arn)
    page = sfn.list_executions(stateMachineArn=version, maxResults=2)
    rest = sfn.list_executions(stateMachineArn=version, maxResults=2, nextToken=page["nextToken"])
    assert [e["executionArn"] for e in page["executions"] + rest["executions"]] == arns[::-1]
    assert "nextToken" not in rest
    assert sfn.list_executions(stateMachineArn=version, statusFilter="FAILED")["executions"] == []
    assert len(sfn.list_executions(stateMachineArn=version, redriveFilter="NOT_REDRIVEN")["executions"]) == 3


def test_an_alias_that_does_not_exist_is_not_found(run: Runner) -> None:
    """ListExecutions on an alias ARN that names no alias: ResourceNotFound, "Could not find the
    referenced resource" (API reference's errors)."""
    created = run.sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION), roleArn=ROLE
    )
    with pytest.raises(ClientError) as caught:
        run.sfn.list_executions(stateMachineArn=f"{created['stateMachineArn']}:nowhere")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
