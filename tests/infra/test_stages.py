"""Stages (infra/stage.py): several stacks in one account and region, each with its policy.

Two stages synthesized side by side in one app collide nowhere: no name either stack sets
itself is the other's, no account-wide singleton is in either, and their custom metrics
carry each its own service name. A stage name that is not a resource prefix, a value that
is not a policy or a switch, and flags that contradict the policy are refused, each with a
message naming the setting and the fix, never a stack trace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.constructs.event_bus import EventBus
from infra.nag import findings
from infra.stage import (
    API_GATEWAY_ACCOUNT_CONTEXT,
    DEV,
    DEVELOPMENT,
    MAX_NAME,
    POLICY_CONTEXT,
    PROD,
    PRODUCTION,
    STAGE_CONTEXT,
    Stage,
    StageError,
    stage_from,
)
from tests.infra.conftest import Synthesized, _synthesize, refused_synth
from tests.infra.stage_diff import by_type, differences, synthesize_side_by_side

ROOT = Path(__file__).resolve().parents[2]
Resources = dict[str, dict[str, Any]]

# Names unique in an account and region (or account-wide): two stacks setting the same one collide.
ACCOUNT_SCOPED = {
    ("AWS::Events::EventBus", "Name"),
    ("AWS::CloudWatch::Alarm", "AlarmName"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"),
    ("AWS::Logs::LogGroup", "LogGroupName"),
    ("AWS::Lambda::Function", "FunctionName"),
    ("AWS::Lambda::LayerVersion", "LayerName"),
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::SQS::Queue", "QueueName"),
    ("AWS::SNS::Topic", "TopicName"),
    ("AWS::DynamoDB::Table", "TableName"),
    ("AWS::S3::Bucket", "BucketName"),
    ("AWS::StepFunctions::StateMachine", "StateMachineName"),
    ("AWS::Cognito::UserPool", "UserPoolName"),
    ("AWS::Cognito::UserPoolDomain", "Domain"),
    ("AWS::KMS::Alias", "AliasName"),
    ("AWS::SSM::Parameter", "Name"),
    ("AWS::Events::Rule", "Name"),
}
# Names within a resource of the stack's own (its bus, pool, API, state machine, role), or not unique
SCOPED = {
    ("AWS::Events::EventBusPolicy", "StatementId"),  # on the stack's bus
    ("AWS::Events::EventBusPolicy", "EventBusName"),  # a Ref to it
    ("AWS::Cognito::UserPoolGroup", "GroupName"),
    ("AWS::ApiGateway::Stage", "StageName"),
    ("AWS::ApiGateway::Model", "Name"),
    ("AWS::ApiGateway::Authorizer", "Name"),
    ("AWS::ApiGateway::RequestValidator", "Name"),
    ("AWS::ApiGateway::RestApi", "Name"),  # REST API names need not be unique
    ("AWS::StepFunctions::StateMachineAlias", "Name"),
    ("AWS::IAM::Policy", "PolicyName"),  # an inline policy, of its role
    ("AWS::CloudWatch::Alarm", "MetricName"),  # a metric, told apart by its dimensions (the service)
}
# One per account and region: a stack may own it only when asked (-c api_gateway_account=true)
SINGLETONS = {"AWS::ApiGateway::Account"}


@pytest.fixture(scope="session")
def side_by_side(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Resources]]:
    """prod and dev in one app, as build(stages=[PROD, DEV]) synthesizes them."""
    outdir = tmp_path_factory.mktemp("side-by-side.out")
    return outdir, synthesize_side_by_side(outdir)


def set_names(resources: Resources) -> dict[tuple[str, str], set[str]]:
    """Every name the stack sets itself (a plain string), by (type, property)."""
    found: dict[tuple[str, str], set[str]] = {}
    for resource in resources.values():
        for key, value in resource.get("Properties", {}).items():
            named = key.endswith("Name") or key in ("StatementId", "Domain")
            if named and isinstance(value, str):
                found.setdefault((resource["Type"], key), set()).add(value)
    return found


def test_two_stages_side_by_side_collide_nowhere(side_by_side: tuple[Path, dict[str, Resources]]) -> None:
    # Given prod and dev synthesized in one app
    _, stacks = side_by_side
    prod, dev = stacks[PROD.stack_name], stacks[DEV.stack_name]
    assert (PROD.stack_name, DEV.stack_name) == ("AiFlows", "AiFlows-dev")
    # Then every name either stack sets is classified: unique in the account, or within its own resource
    names = {stack: set_names(resources) for stack, resources in stacks.items()}
    unclassified = {key for found in names.values() for key in found} - ACCOUNT_SCOPED - SCOPED
    assert not unclassified, f"classify these names in ACCOUNT_SCOPED or SCOPED: {sorted(unclassified)}"
    # And no account-scoped name of one is the other's
    for key in ACCOUNT_SCOPED:
        shared = names[PROD.stack_name].get(key, set()) & names[DEV.stack_name].get(key, set())
        assert not shared, f"{key}: both stages name {sorted(shared)}"
    # And every account-scoped name of dev carries its stage, as the stack's or the bus's prefix
    for key, values in names[DEV.stack_name].items():
        if key in ACCOUNT_SCOPED:
            for value in values:
                assert DEV.stack_name in value or DEV.prefix in value, (key, value)
    # And neither owns an account-wide singleton
    for resources in (prod, dev):
        assert not [r for r in resources.values() if r["Type"] in SINGLETONS]


def test_each_stages_metrics_carry_its_own_service(side_by_side: tuple[Path, dict[str, Resources]]) -> None:
    # Given both stacks' functions and alarms
    _, stacks = side_by_side
    for stage in (PROD, DEV):
        resources = stacks[stage.stack_name]
        # Then every function's service name is the stage's (its logs, traces and EMF metrics)
        functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
        services = {
            r["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME")
            for r in functions
            if "Environment" in r["Properties"]
            and "CAPABILITY" in r["Properties"]["Environment"]["Variables"]
        }
        assert services == {stage.prefix}
        # And every alarm on a custom metric reads that service's, never the other stage's
        text = json.dumps([r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"])
        dimensions = set(re.findall(r'"Name": "service", "Value": "([^"]+)"', text))
        assert dimensions == {stage.prefix}, dimensions


def test_both_stages_leave_no_nag_finding(side_by_side: tuple[Path, dict[str, Resources]]) -> None:
    outdir, _ = side_by_side
    found = findings(outdir)
    assert found == [], "\n".join(str(f) for f in found)


def test_what_differs_per_stage_is_names_and_the_policy(
    side_by_side: tuple[Path, dict[str, Resources]],
) -> None:
    # Given the two stacks' templates (python -m tests.infra.stage_diff prints the same)
    _, stacks = side_by_side
    diff = by_type(differences(stacks[PROD.stack_name], stacks[DEV.stack_name]))
    retained = {"DeletionPolicy", "UpdateReplacePolicy"}
    # Then what differs is the names the stack sets, the service name, and what the policy decides
    assert diff == {
        "AWS::Events::EventBus": {"Properties.Name"},
        "AWS::Events::EventBusPolicy": {"Properties.StatementId", "Properties.Statement"},  # Sid, twice
        "AWS::CloudWatch::Alarm": {
            "Properties.AlarmName",
            "Properties.ActionsEnabled",
            "Properties.Dimensions",  # the service
            "Properties.Metrics",  # the service, in a math expression's metrics
        },
        "AWS::CloudWatch::Dashboard": {"Properties.DashboardName", "Properties.DashboardBody"},
        "AWS::Logs::LogGroup": {"Properties.LogGroupName"},  # the flows' /aws/vendedlogs/states/<stack>-…
        "AWS::Lambda::Function": {"Properties.Environment"},  # POWERTOOLS_SERVICE_NAME
        "AWS::Cognito::UserPool": {
            *retained,
            "Properties.DeletionProtection",
            "Properties.UserPoolTier",
            "Properties.UserPoolAddOns",
        },
        "AWS::DynamoDB::Table": {*retained, "Properties.DeletionProtectionEnabled"},
        "AWS::S3::Bucket": {*retained, "Properties.Tags"},  # tagged for the auto-delete handler
        "AWS::S3::BucketPolicy": {"Properties.PolicyDocument"},  # which lets that handler empty it
        "AWS::KMS::Key": retained,
        # ids CDK derives from a construct's path, which starts with the stack's name
        "AWS::ApiGateway::Stage": {"Properties.DeploymentId"},
        "AWS::ApiGateway::Authorizer": {"Properties.Name"},
        "AWS::SQS::QueuePolicy": {"Properties.PolicyDocument"},  # its statements' Sids
    }


def test_the_default_stage_keeps_its_names(synthesized: Synthesized) -> None:
    # Given a deploy that names no stage
    template = synthesized.template.to_json()["Resources"]
    # Then its stack is AiFlows and its bus aiflows, as before stages had names
    assert synthesized.stack.stack_name == "AiFlows"
    (bus,) = [r for r in template.values() if r["Type"] == "AWS::Events::EventBus"]
    assert bus["Properties"]["Name"] == "aiflows"
    assert not [r for r in template.values() if r["Type"] in SINGLETONS]


def test_the_longest_stage_name_fits_every_name_derived_from_it() -> None:
    # Given a stage name of the longest length allowed
    stage = Stage("a" * MAX_NAME, DEVELOPMENT)
    stack = cdk.Stack(cdk.App(), stage.stack_name)
    EventBus(stack, "EventBus", bus_name=stage.prefix)
    template = Template.from_stack(stack).to_json()["Resources"]
    # Then its bus's statement ids, the tightest of the names, are within EventBridge's 64 characters
    ids = [
        r["Properties"]["StatementId"]
        for r in template.values()
        if r["Type"] == "AWS::Events::EventBusPolicy"
    ]
    assert max(len(i) for i in ids) == 64
    # And one character more is refused
    with pytest.raises(StageError, match=f"{MAX_NAME + 1} characters, more than {MAX_NAME}"):
        Stage("a" * (MAX_NAME + 1), DEVELOPMENT)


def context(**values: object) -> cdk.App:
    return cdk.App(context={key: value for key, value in values.items() if value is not None})


@pytest.mark.parametrize(
    ("name", "policy"),
    [("prod", PRODUCTION), ("dev", DEVELOPMENT), ("alice", DEVELOPMENT), ("review-2", DEVELOPMENT)],
)
def test_a_stages_policy_follows_its_name_unless_a_flag_chooses(name: str, policy: object) -> None:
    assert stage_from(context(stage=name).node).policy is policy
    chosen = stage_from(context(stage=name, stage_policy="production").node)
    assert chosen.policy is PRODUCTION and chosen.stack_name == (
        "AiFlows" if name == "prod" else f"AiFlows-{name}"
    )
    assert stage_from(context(stage=name, stage_policy="development").node).policy is DEVELOPMENT


@pytest.mark.parametrize("name", ["Prod", "dev_1", "1dev", "-dev", "dev-", "dev--a", "", "dév", 7, ["dev"]])
def test_a_stage_name_that_is_not_a_resource_prefix_is_refused_with_the_fix(name: object) -> None:
    with pytest.raises(StageError) as refused:
        stage_from(context(stage=name).node)
    message = str(refused.value)
    assert f"context {STAGE_CONTEXT}={name!r} is not a resource prefix" in message
    assert "lowercase letters and digits" in message and f"-c {STAGE_CONTEXT}=dev" in message


@pytest.mark.parametrize("value", ["prod", "dev", "Production", True])
def test_a_value_that_is_not_a_policy_is_refused_naming_both(value: object) -> None:
    with pytest.raises(StageError) as refused:
        stage_from(context(stage_policy=value).node)
    message = str(refused.value)
    assert f"context {POLICY_CONTEXT}={value!r} is not a policy" in message
    assert f"-c {POLICY_CONTEXT}=production" in message and f"-c {POLICY_CONTEXT}=development" in message


@pytest.mark.parametrize("value", ["yes", "1", 1, "True"])
def test_an_api_gateway_account_value_that_is_not_a_switch_is_refused(value: object) -> None:
    with pytest.raises(
        StageError, match=f"context {API_GATEWAY_ACCOUNT_CONTEXT}={value!r} is not true or false"
    ):
        stage_from(context(api_gateway_account=value).node)


def test_an_alert_email_for_alarms_that_notify_nobody_is_refused() -> None:
    # Given -c stage=dev (development: alarms without actions) and an address to notify
    with pytest.raises(StageError) as refused:
        stage_from(context(stage="dev", alert_email="oncall@example.com").node)
    # Then the two flags conflict, and the message says which way out
    message = str(refused.value)
    assert "context alert_email='oncall@example.com'" in message and "development policy" in message
    assert "drop -c alert_email, or add -c stage_policy=production" in message
    # And under production the same address is taken
    assert stage_from(context(stage="dev", stage_policy="production", alert_email="o@example.com").node)


def test_a_development_stage_may_not_own_the_account_wide_role() -> None:
    with pytest.raises(StageError) as refused:
        stage_from(context(stage="dev", api_gateway_account="true").node)
    message = str(refused.value)
    assert f"context {API_GATEWAY_ACCOUNT_CONTEXT}=true" in message and "outlives the stack" in message
    assert "-c stage=prod -c api_gateway_account=true" in message
    assert stage_from(context(api_gateway_account="true").node).api_gateway_account is True


def test_a_synth_with_conflicting_flags_fails_with_the_fix_not_a_trace(tmp_path: Path) -> None:
    # Given `cdk synth -c stage=dev -c alert_email=…`, as the CLI passes it (CDK_CONTEXT_JSON)
    printed = refused_synth(tmp_path, {STAGE_CONTEXT: "dev", "alert_email": "oncall@example.com"})
    # Then synth fails with one line, naming both flags and the fix, and writes no template
    assert re.search(
        r"^error: context alert_email='oncall@example.com' .+ stage dev .+ drop -c alert_email, "
        r"or add -c stage_policy=production$",
        printed,
        flags=re.MULTILINE,
    ), printed[-2000:]


def test_the_account_wide_role_only_when_asked_and_kept(tmp_path: Path, synthesized: Synthesized) -> None:
    # Given the default stage, without and with -c api_gateway_account=true
    without = synthesized.template.to_json()["Resources"]
    asked = _synthesize(tmp_path, {API_GATEWAY_ACCOUNT_CONTEXT: "true"})
    resources = asked.template.to_json()["Resources"]
    # Then without, no account setting and no role for it, and the API's stage waits on neither
    assert not [r for r in without.values() if r["Type"] == "AWS::ApiGateway::Account"]
    (stage,) = [r for r in without.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert "DependsOn" not in stage or not any("Account" in d for d in stage["DependsOn"])
    # And asked, one account setting naming a role that API Gateway assumes, both kept with the stack gone
    (account,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Account"]
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    for resource in (account, role):
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # And the API's logging still passes cdk-nag, the role's managed policy acknowledged
    found = findings(asked.assembly_dir)
    assert found == [], "\n".join(str(f) for f in found)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "keeps a record 1 to 3650 days"),
        (5000, "keeps a record 1 to 3650 days"),
        ("a year", "not a number"),
    ],
)
def test_an_audit_retention_that_is_not_a_number_of_days_is_refused_naming_the_setting(
    value: object, problem: str
) -> None:
    with pytest.raises(StageError, match=problem) as refused:
        stage_from(context(audit_retention_days=value).node)
    assert "audit_retention_days" in str(refused.value)
    assert stage_from(context(audit_retention_days="30").node).audit_retention_days == 30
    assert stage_from(context().node).audit_retention_days == 400  # without it
