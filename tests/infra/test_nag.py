"""cdk-nag at synth: the app leaves no finding unacknowledged, and the check can fail."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from aiflows.flows import FlowInfo, flows
from aiflows.registry import CapabilityInfo, capabilities
from infra.contract_check import is_distributed_map, walk_states
from infra.nag import REPORT_ONLY, acknowledge, apply_nag, findings
from tests.infra.conftest import Synthesized

# Each acknowledgement, by resource: the list a reviewer reads when one is added. A capability's and a
# flow's follow from its manifest; the framework's own resources are written out.
LAMBDA_FINDINGS = {"AwsSolutions-L1", "Serverless-LambdaLatestVersion", "Serverless-LambdaDLQ"}
TRACING = "AwsSolutions-IAM5[Resource::*]"  # xray:PutTraceSegments, PutTelemetryRecords take no resource
CLAIMS = "AwsSolutions-IAM5[Resource::<ClaimBucketD406E5C3.Arn>/*]"  # a key per run
REDACTED = "AwsSolutions-IAM5[Resource::<ClaimBucketD406E5C3.Arn>/redacted/*]"  # a redacted copy per run
BATCH_RESULTS = "AwsSolutions-IAM5[Resource::<ClaimBucketD406E5C3.Arn>/batches/*]"  # a Map Run's result files


def capability_acknowledgements(info: CapabilityInfo) -> dict[str, set[str]]:
    """What a capability's function acknowledges, from what its manifest says it reaches."""
    reaches = info.manifest.reaches
    policy = (
        {TRACING}
        | ({CLAIMS} if reaches.claims else set())
        | ({REDACTED} if reaches.claims == "read_redact" else set())
        | ({BATCH_RESULTS} if reaches.batch_results else set())
    )
    found = {f"{info.binding}/Role/DefaultPolicy": policy, f"{info.binding}/Default": LAMBDA_FINDINGS}
    if reaches.work_queue:
        found[f"{info.binding}/TaskTokenPolicy"] = {"AwsSolutions-IAM5[Resource::*]"}
        found[f"{info.binding}/Default/WorkQueue"] = {"Serverless-LambdaEventSourceMappingDestination"}
    return found


CHILD_RUNS = "child executions of the flow's own state machine"  # its finding names its logical id


def flow_acknowledgements(flow: FlowInfo) -> dict[str, set[str]]:
    """What a flow's role acknowledges: logging and X-Ray take no resource; a Distributed Map reads
    and writes keys known at run time in the claim bucket, and describes and stops its children."""
    role = f"{flow.construct_id}/Default/Role/DefaultPolicy"
    found = {role: {"AwsSolutions-IAM5[Resource::*]"}}
    if any(is_distributed_map(state) for _, state in walk_states(flow.woven())):
        found[role].add(CLAIMS)
        found[f"{flow.construct_id}/Default/DistributedMapPolicy"] = {CHILD_RUNS}  # the machine's own
    return found


ACKNOWLEDGED = {
    **{
        path: rules
        for info in capabilities().values()
        for path, rules in capability_acknowledgements(info).items()
    },
    # a flow's role: Step Functions logging and X-Ray take no resource
    **{path: rules for flow in flows().values() for path, rules in flow_acknowledgements(flow).items()},
    "ClaimBucket/Default": {"AwsSolutions-S1"},
    "ReviewApi/Function/Role/DefaultPolicy": {TRACING, CLAIMS},
    "ReviewApi/Function/Default": LAMBDA_FINDINGS,
    "ReviewApi/Function/TaskTokenPolicy": {"AwsSolutions-IAM5[Resource::*]"},
    "ReviewApi/Api": {"AwsSolutions-APIG2"},
    # ReviewApi/Api/CloudWatchRole: only with -c api_gateway_account=true (tests/infra/test_stages.py)
    "ReviewApi/Api/DeploymentStage.prod": {"AwsSolutions-APIG3"},
    # the console's page and assets are public; every API route needs a Cognito token
    "ReviewApi/Api/Default/GET": {"AwsSolutions-APIG4", "AwsSolutions-COG4"},
    "ReviewApi/Api/Default/console/{name}/GET": {"AwsSolutions-APIG4", "AwsSolutions-COG4"},
    "Work/DeadLetterQueue": {"Serverless-SQSRedrivePolicy"},
    "EventBus/TargetDeadLetterQueue": {"AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"},
    "ParkedRuns/Queue": {"AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"},
}


def synth_with_nag(app: cdk.App) -> Path:
    apply_nag(app)
    return Path(app.synth().directory)


def test_the_app_leaves_no_nag_finding_unacknowledged(synthesized: Synthesized) -> None:
    # Given the app synthesized with the AwsSolutions and Serverless packs
    # When the validation report of its cloud assembly is read
    found = findings(synthesized.assembly_dir)
    # Then it holds no error and no warning
    assert found == [], "\n".join(str(f) for f in found)


def test_both_rule_packs_ran(synthesized: Synthesized) -> None:
    # Given the app's template, with acknowledgements written to resource metadata
    template = synthesized.template.to_json()
    rules = {
        rule["id"]
        for resource in template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    }
    # Then findings of both packs were met (and acknowledged): both packs ran
    assert any(r.startswith("AwsSolutions-") for r in rules)
    assert any(r.startswith("Serverless-") for r in rules)


def test_each_acknowledgement_is_where_expected_with_a_reason(synthesized: Synthesized) -> None:
    # Given the acknowledgements the template carries as metadata
    stack = synthesized.stack
    by_path: dict[str, set[str]] = {}
    for logical_id, resource in synthesized.template.to_json()["Resources"].items():
        rules = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        if not rules:
            continue
        path = _path_of(stack, logical_id).removeprefix(f"{stack.stack_name}/").removesuffix("/Resource")
        by_path[path] = {rule["id"] for rule in rules}
        # Then each one says why, specifically, and once
        assert len(rules) == len(by_path[path]), rules
        for rule in rules:
            assert len(rule["reason"]) >= 40, rule
    # And they are exactly the reviewed ones, on exactly these resources (a flow's child executions
    # by its state machine's logical id)
    expected = {path: set(rules) for path, rules in ACKNOWLEDGED.items()}
    for flow in flows().values():
        policy = f"{flow.construct_id}/Default/DistributedMapPolicy"
        if CHILD_RUNS in expected.get(policy, set()):
            machine = synthesized.logical_id(stack.flows[flow.name].state_machine)
            expected[policy] = {
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:<{machine}.Name>:*]"
            }
    assert by_path == expected


def test_the_queue_worker_acknowledges_its_dlq_finding_for_its_own_reason(synthesized: Synthesized) -> None:
    # Given the reasons given for Serverless-LambdaDLQ
    reasons = {}
    for name in ("WorkerFunction", "ClassifyFunction"):
        function = synthesized.stack.functions[name].function
        metadata = synthesized.template.to_json()["Resources"][synthesized.logical_id(function)]["Metadata"]
        (rule,) = [r for r in metadata["cdk_nag"]["rules_to_suppress"] if r["id"] == "Serverless-LambdaDLQ"]
        reasons[name] = rule["reason"]
    # Then the worker's names its event source mapping, a flow's function its Task states
    assert "SQS event source mapping" in reasons["WorkerFunction"]
    assert "Step Functions Task states" in reasons["ClassifyFunction"]


def test_a_non_compliant_resource_is_reported(tmp_path: Path) -> None:
    # Given an app with a queue that neither enforces TLS nor has a dead-letter queue
    app = cdk.App(outdir=str(tmp_path), context=REPORT_ONLY)
    stack = cdk.Stack(app, "Careless")
    sqs.Queue(stack, "Plain")
    # When it is synthesized with the nag packs
    found = findings(synth_with_nag(app))
    # Then the report names the findings, on that queue
    reported = {(f.rule, f.severity, path) for f in found for path in f.paths}
    assert ("AwsSolutions-SQS4", "error", "Careless/Plain/Resource") in reported
    assert ("Serverless-SQSRedrivePolicy", "error", "Careless/Plain/Resource") in reported


def test_an_acknowledgement_silences_only_its_own_finding(tmp_path: Path) -> None:
    # Given the same queue, with only its TLS finding acknowledged
    app = cdk.App(outdir=str(tmp_path), context=REPORT_ONLY)
    queue = sqs.Queue(cdk.Stack(app, "Careless"), "Plain")
    acknowledge(queue, "AwsSolutions-SQS4", "A test of acknowledgements: this queue never deploys.")
    # When it is synthesized with the nag packs
    rules = {f.rule for f in findings(synth_with_nag(app))}
    # Then that finding is gone, and the others remain
    assert "AwsSolutions-SQS4" not in rules
    assert {"AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"} <= rules


def test_synth_fails_on_an_unacknowledged_error(tmp_path: Path) -> None:
    # Given the careless queue, and synth's default behaviour (no REPORT_ONLY)
    app = cdk.App(outdir=str(tmp_path))
    sqs.Queue(cdk.Stack(app, "Careless"), "Plain")
    # When it is synthesized with the nag packs, then synth stops and names the rule
    with pytest.raises(Exception, match="AwsSolutions-SQS4"):
        synth_with_nag(app)
    # And the report is in the assembly all the same
    assert json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]


@pytest.mark.parametrize(
    ("finding", "reason"),
    [
        ("IAM5", "a reason that is long enough to say something useful here"),
        ("AwsSolutions-IAM5", "too short"),
    ],
)
def test_an_acknowledgement_names_a_finding_and_a_reason(finding: str, reason: str) -> None:
    # Given a construct
    queue = sqs.Queue(cdk.Stack(cdk.App(), "S"), "Q")
    # Then an acknowledgement without a rule id, or without a real reason, is refused
    with pytest.raises(ValueError, match=finding):
        acknowledge(queue, finding, reason)


def _path_of(stack: cdk.Stack, logical_id: str) -> str:
    for child in stack.node.find_all():
        if isinstance(child, cdk.CfnElement) and stack.get_logical_id(child) == logical_id:
            return child.node.path
    raise LookupError(logical_id)
