"""`python -m aiflows doctor`: each check passes and fails on what the account answers, with its fix.

The checks are functions of the answers; the account's calls are tried with botocore's Stubber
(Bedrock's model availability, inference profiles, Service Quotas, Lambda's account settings,
none of which the local cloud models). tests/localcloud/test_doctor.py runs it against the
local cloud.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aiflows import doctor
from aiflows.doctor import (
    FAIL,
    OK,
    UNCHECKED,
    Account,
    Assembly,
    Demand,
    ModelDemand,
    NotAsked,
    Unanswered,
)
from aiflows_runtime.policies import routing_policy

REGION = "us-east-1"
ACCOUNT = "123456789012"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
ASSEMBLY = Assembly("AiFlows", 6, "/cdk-bootstrap/hnb659fds/version", {"Resources": {}, "Outputs": {}})


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


# --- bootstrap ---------------------------------------------------------------------------------


def test_the_bootstrap_passes_at_the_version_the_assembly_requires_or_later() -> None:
    # Given the assembly requires bootstrap version 6, and SSM holds 30
    finding = doctor.check_bootstrap(ASSEMBLY, "30", ACCOUNT, REGION)
    # Then it passes
    assert finding.outcome == OK and "30" in finding.finding


@pytest.mark.parametrize("deployed", [None, "5"])
def test_an_older_or_missing_bootstrap_fails_with_the_bootstrap_command(deployed: str | None) -> None:
    finding = doctor.check_bootstrap(ASSEMBLY, deployed, ACCOUNT, REGION)
    assert finding.outcome == FAIL
    assert finding.fix == f"npx cdk bootstrap aws://{ACCOUNT}/{REGION}"


def test_an_unanswered_bootstrap_question_is_not_a_failure() -> None:
    finding = doctor.check_bootstrap(ASSEMBLY, Unanswered("AccessDenied: no"), ACCOUNT, REGION)
    assert finding.outcome == UNCHECKED and "AccessDenied" in finding.finding


def test_the_assembly_gives_the_required_bootstrap_version(tmp_path: Any) -> None:
    # Given an assembly manifest as cdk synth writes it
    (tmp_path / "AiFlows.template.json").write_text(json.dumps({"Resources": {}}))
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "AiFlows": {
                        "type": "aws:cloudformation:stack",
                        "displayName": "AiFlows",
                        "properties": {
                            "templateFile": "AiFlows.template.json",
                            "requiresBootstrapStackVersion": 6,
                            "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/custom1/version",
                        },
                    }
                }
            }
        )
    )
    # When it is read
    read = doctor.read_assembly(tmp_path, "AiFlows")
    # Then the version and the qualifier's parameter are the manifest's
    assert (read.required_bootstrap, read.bootstrap_parameter) == (6, "/cdk-bootstrap/custom1/version")
    with pytest.raises(doctor.DoctorError, match="make synth"):
        doctor.read_assembly(tmp_path / "missing", "AiFlows")


# --- models and inference profiles ---------------------------------------------------------------

AVAILABLE = {
    "modelId": "amazon.nova-lite-v1:0",
    "agreementAvailability": {"status": "AVAILABLE"},
    "authorizationStatus": "AUTHORIZED",
    "entitlementAvailability": "AVAILABLE",
    "regionAvailability": "AVAILABLE",
}


def test_an_enabled_model_passes() -> None:
    finding = doctor.check_model(
        "amazon.nova-lite-v1:0", ["classify"], REGION, "amazon.nova-lite-v1:0", AVAILABLE
    )
    assert finding.outcome == OK and "by its own id" in finding.finding


def test_a_model_not_enabled_fails_with_the_model_access_page() -> None:
    answer = {
        **AVAILABLE,
        "authorizationStatus": "NOT_AUTHORIZED",
        "agreementAvailability": {"status": "PENDING"},
    }
    finding = doctor.check_model(
        "amazon.nova-lite-v1:0", ["classify"], REGION, "amazon.nova-lite-v1:0", answer
    )
    assert finding.outcome == FAIL
    assert "authorizationStatus NOT_AUTHORIZED" in finding.finding and "agreement PENDING" in finding.finding
    assert "Model access page" in finding.fix and doctor.model_access_page(REGION) in finding.fix


def test_a_region_the_policy_gives_no_id_fails_naming_routing_toml() -> None:
    # Given the routing policy: Claude 3.5 Haiku only through its US profile
    assert routing_policy().invocation(HAIKU, "eu-west-1") is None
    finding = doctor.check_model(HAIKU, ["extract"], "eu-west-1", None, None)
    assert finding.outcome == FAIL and doctor.ROUTING_TOML in finding.fix


def test_an_active_profile_routing_where_the_policy_grants_passes() -> None:
    invocation = routing_policy().invocation(HAIKU, REGION)
    assert invocation is not None and invocation.through_profile
    profile = {
        "status": "ACTIVE",
        "models": [
            {"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{HAIKU}"}
            for region in invocation.destinations
        ],
    }
    finding = doctor.check_profile(invocation.model_id, REGION, invocation.destinations, profile)
    assert finding.outcome == OK


def test_a_profile_routing_to_an_ungranted_region_fails_with_the_destination_to_add() -> None:
    invocation = routing_policy().invocation(HAIKU, REGION)
    assert invocation is not None
    profile = {
        "status": "ACTIVE",
        "models": [{"modelArn": f"arn:aws:bedrock:ca-central-1::foundation-model/{HAIKU}"}],
    }
    finding = doctor.check_profile(invocation.model_id, REGION, invocation.destinations, profile)
    assert finding.outcome == FAIL and "ca-central-1" in finding.fix and doctor.ROUTING_TOML in finding.fix
    missing = doctor.check_profile(invocation.model_id, REGION, invocation.destinations, None)
    assert missing.outcome == FAIL and "list-inference-profiles" in missing.fix


# --- the layer ---------------------------------------------------------------------------------

LAYER = "/aws/service/powertools/python/arm64/python3.12/3.37.0"


def test_the_layer_parameter_passes_when_it_resolves() -> None:
    [finding] = doctor.check_layer(LAYER, "arn:aws:lambda:us-east-1:017000801446:layer:P:1", LAYER, REGION)
    assert finding.outcome == OK


def test_a_missing_layer_parameter_fails_with_how_to_pin_a_published_release() -> None:
    [finding] = doctor.check_layer(LAYER, None, LAYER, REGION)
    assert finding.outcome == FAIL and "requirements.txt" in finding.fix
    assert "/aws/service/powertools/python/arm64/python3.12/latest" in finding.fix


def test_an_assembly_older_than_the_pin_fails_with_make_synth() -> None:
    stale, found = doctor.check_layer(LAYER, "arn:...", LAYER.replace("3.37.0", "3.1.0"), REGION)
    assert stale.outcome == FAIL and "make synth" in stale.fix and found.outcome == OK


# --- concurrency: what the template configures ------------------------------------------------------


def template_with(
    max_concurrency: int | None, worker_maximum: int, reserved: int | None = None
) -> dict[str, Any]:
    """A template shaped as the stack's: a Map of classify and extract, the worker's queue."""
    inner = {"Type": "Task", "Arguments": {"FunctionName": "${ClassifyFunction}"}, "Next": "E"}
    last = {"Type": "Task", "Arguments": {"FunctionName": "${ExtractFunction}"}, "End": True}
    map_state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "C", "States": {"C": inner, "E": last}},
    }
    if max_concurrency is not None:
        map_state["MaxConcurrency"] = max_concurrency
    worker: dict[str, Any] = {"Type": "AWS::Lambda::Function", "Properties": {}}
    if reserved is not None:
        worker["Properties"]["ReservedConcurrentExecutions"] = reserved
    return {
        "Resources": {
            "BatchIntake3ECF03C7": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": json.dumps(
                        {"StartAt": "Documents", "States": {"Documents": map_state}}
                    ),
                    "DefinitionSubstitutions": {
                        "ClassifyFunction": {"Fn::GetAtt": ["ClassifyFunctionX", "Arn"]},
                        "ExtractFunction": {"Fn::GetAtt": ["ExtractFunctionX", "Arn"]},
                    },
                },
            },
            "WorkerFunctionX": worker,
            "WorkerMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "WorkerFunctionX"},
                    "ScalingConfig": {"MaximumConcurrency": worker_maximum},
                },
            },
        },
        "Outputs": {
            "ClassifyFunctionName": {"Value": {"Ref": "ClassifyFunctionX"}},
            "ExtractFunctionName": {"Value": {"Ref": "ExtractFunctionX"}},
            "WorkerFunctionName": {"Value": {"Ref": "WorkerFunctionX"}},
        },
    }


def test_the_demands_are_each_maps_children_and_each_queues_workers() -> None:
    demands = doctor.concurrency_demands(template_with(10, 5))
    assert demands == [
        Demand("batch_intake: Map Documents", 10, ("classify", "extract")),
        Demand("worker: its queue's event source", 5, ("worker",)),
    ]
    # each capability's primary model gets the calls its demand makes at once
    from aiflows.registry import capabilities

    per_model = doctor.model_demands(demands, capabilities())
    assert {m: d.concurrency for m, d in per_model.items()} == {
        "amazon.nova-lite-v1:0": 10,
        HAIKU: 10,
        "amazon.nova-micro-v1:0": 5,
    }


SETTINGS = {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}}


def test_the_lambda_concurrency_passes_when_the_unreserved_concurrency_holds_the_flows() -> None:
    [finding] = doctor.check_lambda_concurrency(
        SETTINGS, doctor.concurrency_demands(template_with(10, 5)), {}, REGION
    )
    assert finding.outcome == OK and "up to 15" in finding.finding


def test_a_new_accounts_ten_concurrent_executions_fail_with_the_quota_increase() -> None:
    # Given a new account's limit of 10, and flows that run 15 at once
    small = {"AccountLimit": {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10}}
    [finding] = doctor.check_lambda_concurrency(
        small, doctor.concurrency_demands(template_with(10, 5)), {}, REGION
    )
    assert finding.outcome == FAIL
    assert finding.fix == (
        "aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 "
        "--desired-value 100 --region us-east-1"
    )


def test_reserved_concurrency_that_leaves_less_than_100_unreserved_fails() -> None:
    template = template_with(10, 5, reserved=950)
    reserved = doctor.reserved_concurrency(template)
    assert reserved == {"worker": 950}
    settings = {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 50}}
    findings = doctor.check_lambda_concurrency(
        settings, doctor.concurrency_demands(template), reserved, REGION
    )
    assert [f.outcome for f in findings] == [OK, FAIL]
    assert "keeps 100 unreserved" in findings[-1].finding


def test_a_map_without_max_concurrency_cannot_be_checked() -> None:
    findings = doctor.check_lambda_concurrency(
        SETTINGS, doctor.concurrency_demands(template_with(None, 5)), {}, REGION
    )
    assert [f.outcome for f in findings] == [OK, UNCHECKED]


# --- Bedrock quotas ----------------------------------------------------------------------------------

DEMAND = ModelDemand(HAIKU, 10, 1024, ("batch_intake: Map Documents (10)",))


def quota(kind: str, unit: str, value: float, code: str) -> dict[str, Any]:
    return {
        "QuotaName": f"{kind} InvokeModel {unit} per minute for Anthropic Claude 3.5 Haiku",
        "QuotaCode": code,
        "Value": value,
    }


def test_quotas_that_hold_the_calls_at_the_configured_concurrency_pass() -> None:
    quotas = [quota("Cross-Region", "requests", 100, "L-1"), quota("Cross-Region", "tokens", 400000, "L-2")]
    findings = doctor.check_bedrock_quotas(
        DEMAND, REGION, True, 22.0, ("Anthropic", "Claude 3.5 Haiku"), quotas
    )
    assert [f.outcome for f in findings] == [OK, OK]


def test_a_quota_below_the_calls_fails_with_the_quota_increase_request() -> None:
    # Given 10 calls at once lasting up to 22 s each: at least 28 requests and 28 * 1024 tokens a minute
    quotas = [quota("Cross-Region", "requests", 20, "L-1"), quota("Cross-Region", "tokens", 400000, "L-2")]
    requests, tokens = doctor.check_bedrock_quotas(
        DEMAND, REGION, True, 22.0, ("Anthropic", "Claude 3.5 Haiku"), quotas
    )
    assert requests.outcome == FAIL and tokens.outcome == OK
    assert requests.fix == (
        "aws service-quotas request-service-quota-increase --service-code bedrock --quota-code L-1 "
        "--desired-value 28 --region us-east-1"
    )


def test_an_in_region_model_is_held_to_its_on_demand_quotas_and_a_missing_one_is_not_checked() -> None:
    quotas = [quota("Cross-Region", "requests", 100, "L-1")]
    findings = doctor.check_bedrock_quotas(
        DEMAND, REGION, False, 22.0, ("Anthropic", "Claude 3.5 Haiku"), quotas
    )
    assert [f.outcome for f in findings] == [UNCHECKED, UNCHECKED]
    assert "list-service-quotas --service-code bedrock" in findings[0].fix


# --- the stack ---------------------------------------------------------------------------------------


def test_a_deployed_stack_whose_outputs_answer_passes_and_one_that_does_not_fails() -> None:
    answers = {
        "EventBusName": "bus aiflows exists",
        "WorkQueueUrl": Unanswered("AWS.SimpleQueueService.NonExistentQueue: gone"),
        "ReviewApiUrl over HTTP": NotAsked("local endpoint"),
        "Other": None,
    }
    stack = {"StackStatus": "UPDATE_COMPLETE"}
    findings = doctor.check_stack("AiFlows-dev", REGION, "dev", stack, answers)
    assert [f.outcome for f in findings] == [OK, OK, FAIL, UNCHECKED, UNCHECKED]
    assert findings[2].fix.startswith("`npx cdk deploy -c stage=dev`")


def test_a_stack_not_deployed_yet_is_not_a_failure_and_a_rolled_back_one_is() -> None:
    [missing] = doctor.check_stack("AiFlows", REGION, "prod", None, {})
    assert missing.outcome == UNCHECKED and "npx cdk deploy" in missing.finding
    [rolled] = doctor.check_stack("AiFlows", REGION, "prod", {"StackStatus": "ROLLBACK_COMPLETE"}, {})
    assert rolled.outcome == FAIL and "describe-stack-events" in rolled.fix


def test_the_review_api_answers_over_http_with_any_status_below_500() -> None:
    # Given an Account whose HTTP is a fake (no test reaches the internet)
    account = Account(client, http=lambda url: "HTTP 403")
    answers = account.probes({"ReviewApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/prod/"})
    assert answers == {"ReviewApiUrl": "HTTP 403"}

    def refused(url: str) -> str:
        raise OSError("HTTP 502")

    assert Account(client, http=refused).probes({"ReviewApiUrl": "https://abc/"}) == {
        "ReviewApiUrl": Unanswered("HTTP 502")
    }


# --- the account's calls, stubbed ---------------------------------------------------------------------


def test_the_account_reads_model_availability_profiles_quotas_and_lambda_settings() -> None:
    bedrock, quotas, lambda_ = client("bedrock"), client("service-quotas"), client("lambda")
    clients = {"bedrock": bedrock, "service-quotas": quotas, "lambda": lambda_}
    account = Account(clients.__getitem__)
    with Stubber(bedrock) as b, Stubber(quotas) as q, Stubber(lambda_) as lam:
        b.add_response("get_foundation_model_availability", AVAILABLE, {"modelId": "amazon.nova-lite-v1:0"})
        b.add_client_error(
            "get_foundation_model_availability",
            "ResourceNotFoundException",
            expected_params={"modelId": "x.y"},
        )
        b.add_client_error("get_inference_profile", "AccessDeniedException", "not allowed")
        b.add_response(
            "get_foundation_model",
            {
                "modelDetails": {
                    "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
                    "modelId": "amazon.nova-lite-v1:0",
                    "modelName": "Nova Lite",
                    "providerName": "Amazon",
                }
            },
        )
        q.add_response("list_service_quotas", {"Quotas": [quota("On-demand", "requests", 200, "L-9")]})
        lam.add_response("get_account_settings", SETTINGS)
        assert account.model_availability("amazon.nova-lite-v1:0") == AVAILABLE
        assert account.model_availability("x.y") is None
        assert account.inference_profile("us.x") == Unanswered("AccessDeniedException: not allowed")
        assert account.model_names("amazon.nova-lite-v1:0") == ("Amazon", "Nova Lite")
        assert account.bedrock_quotas() == [quota("On-demand", "requests", 200, "L-9")]
        assert account.account_settings() == SETTINGS


# --- the command ---------------------------------------------------------------------------------------


def args(**given: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    return parser.parse_args([f"--{k.replace('_', '-')}={v}" for k, v in given.items()])


def test_no_credentials_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert doctor.main(args(region=REGION)) == 2
    assert "no AWS credentials" in capsys.readouterr().err


def test_an_unsupported_region_is_a_message_naming_the_supported_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert doctor.main(args(region="af-south-1")) == 2
    error = capsys.readouterr().err
    assert "af-south-1" in error and "us-east-1" in error and "Traceback" not in error


def test_a_bad_stage_name_is_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.main(args(stage="Not_A_Name", region=REGION)) == 2
    assert "--stage 'Not_A_Name'" in capsys.readouterr().err


def test_the_stack_name_is_the_apps() -> None:
    from infra.stage import Stage, default_policy

    assert doctor.stack_name("prod") == "AiFlows"
    assert doctor.stack_name("dev") == Stage("dev", default_policy("dev")).stack_name


def test_the_exit_code_is_1_when_a_check_fails() -> None:
    passed = doctor.Finding("bootstrap", "x", OK, "fine")
    failed = doctor.Finding("layer", "y", FAIL, "missing", "pin it")
    assert doctor.exit_code([passed]) == 0 and doctor.exit_code([passed, failed]) == 1
    assert "fix: pin it" in doctor.render([passed, failed])


# --- API Gateway's account-wide logging role ----------------------------------------------------


def test_api_logging_passes_when_the_account_has_the_role_or_the_stack_sets_it() -> None:
    role = "arn:aws:iam::123456789012:role/apigw-logs"
    assert doctor.check_api_logging_role(ASSEMBLY, role, REGION, "prod").outcome == OK
    sets_it = Assembly(
        "AiFlows", 6, ASSEMBLY.bootstrap_parameter, {"Resources": {"A": {"Type": "AWS::ApiGateway::Account"}}}
    )
    assert doctor.check_api_logging_role(sets_it, None, REGION, "prod").outcome == OK


def test_a_new_account_without_the_api_logging_role_fails_with_the_flag_that_sets_it() -> None:
    finding = doctor.check_api_logging_role(ASSEMBLY, None, REGION, "dev")
    assert finding.outcome == FAIL and "CloudWatch Logs role ARN must be set" in finding.finding
    assert finding.fix.startswith("npx cdk deploy -c stage=dev -c api_gateway_account=true")


def test_the_account_reads_api_gateways_logging_role() -> None:
    apigateway = client("apigateway")
    account = Account(lambda service: apigateway)
    with Stubber(apigateway) as stub:
        stub.add_response("get_account", {"cloudwatchRoleArn": "arn:aws:iam::1:role/r"})
        stub.add_response("get_account", {})
        assert account.api_logging_role() == "arn:aws:iam::1:role/r"
        assert account.api_logging_role() is None
