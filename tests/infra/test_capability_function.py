"""CapabilityFunction: the Lambda defaults, held in one place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from aiflows.registry import capabilities
from aiflows_runtime.manifest import ModelRoute
from infra.constructs.capability_function import (
    POWERTOOLS_PARAMETER_ID,
    CapabilityFunction,
    powertools_version,
)
from infra.regions import RULE_ID, SUPPORTED_REGIONS, RegionError
from tests.infra.conftest import Synthesized
from tests.infra.model_grants import bedrock_grants, expected_grants, rule_regions

ROOT = Path(__file__).resolve().parents[2]


def test_functions_share_one_runtime_layer_and_one_powertools_reference(
    stack: cdk.Stack, echo_code: Path
) -> None:
    # Given two capabilities in one stack
    one = CapabilityFunction(stack, "OneFunction", capability="one", code_dir=echo_code)
    two = CapabilityFunction(stack, "TwoFunction", capability="two", code_dir=echo_code)
    # When the stack is synthesized
    template = Template.from_stack(stack)
    # Then the shared runtime is packaged once, and both functions carry the same layers
    template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    functions = template.find_resources("AWS::Lambda::Function")
    layers = [f["Properties"]["Layers"] for f in functions.values()]
    assert len(layers) == 2 and layers[0] == layers[1]
    # And each has its own log group and role
    assert one.log_group is not two.log_group and one.role is not two.role
    template.resource_count_is("AWS::Logs::LogGroup", 2)


def test_the_code_comes_from_the_capability_folder_unless_overridden(
    stack: cdk.Stack, echo_code: Path
) -> None:
    # Given a capability whose code folder is overridden
    CapabilityFunction(stack, "EchoFunction", capability="echo", code_dir=echo_code)
    # When the stack is synthesized, then the asset is that folder's code
    assembly = cdk.App.of(stack).synth()  # type: ignore[union-attr]
    assets = [a for a in (Path(assembly.directory)).glob("asset.*") if (a / "handler.py").is_file()]
    assert [(a / "handler.py").read_text() for a in assets] == [(echo_code / "handler.py").read_text()]


def test_memory_timeout_and_environment_are_parameters(stack: cdk.Stack, echo_code: Path) -> None:
    # Given a capability with more memory, a longer timeout and an extra variable
    CapabilityFunction(
        stack,
        "SlowFunction",
        capability="slow",
        code_dir=echo_code,
        memory_size=1024,
        timeout=cdk.Duration.seconds(90),
        environment={"MODEL_ID": "amazon.nova-lite-v1:0"},
    )
    # Then the function has them, on top of the defaults
    properties = next(iter(Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()))[
        "Properties"
    ]
    assert properties["MemorySize"] == 1024
    assert properties["Timeout"] == 90
    assert properties["Environment"]["Variables"]["MODEL_ID"] == "amazon.nova-lite-v1:0"
    assert properties["Environment"]["Variables"]["CAPABILITY"] == "slow"


def test_the_defaults_cannot_be_overridden_by_environment(stack: cdk.Stack, echo_code: Path) -> None:
    # Given an environment that would rename the capability
    # Then the function is refused: its identity in logs and traces comes from the defaults
    with pytest.raises(ValueError, match=r"may not override \['CAPABILITY'\]"):
        CapabilityFunction(
            stack, "OddFunction", capability="odd", code_dir=echo_code, environment={"CAPABILITY": "other"}
        )


def test_a_route_calls_its_primary_then_each_fallback_once() -> None:
    # Given a route that names a model twice
    route = ModelRoute(
        prompt="v1",
        primary="amazon.nova-micro-v1:0",
        fallbacks=("amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0"),
        max_tokens=10,
        temperature=0,
    )
    # Then its models are the primary and the fallbacks, in order, each once
    assert route.models == ("amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0")


def test_a_model_route_grants_invoke_model_on_exactly_its_models(stack: cdk.Stack, echo_code: Path) -> None:
    # Given a capability that asks models through the classify route, and one that asks none
    routed = capabilities()["classify"].manifest.model.models
    asks = CapabilityFunction(stack, "AsksFunction", capability="asks", code_dir=echo_code, models=routed)
    quiet = CapabilityFunction(stack, "QuietFunction", capability="quiet", code_dir=echo_code)
    # When the stack is synthesized
    template = Template.from_stack(stack).to_json()
    asks_role = stack.get_logical_id(asks.role.node.default_child)  # type: ignore[arg-type]
    quiet_role = stack.get_logical_id(quiet.role.node.default_child)  # type: ignore[arg-type]
    # Then in each supported region the asking function may call exactly the ids the route takes
    # there (routing.toml), and the quiet one none; no grant names a wildcard
    for region in SUPPORTED_REGIONS:
        granted = bedrock_grants(template, asks_role, region)
        assert len(granted) == len(set(granted)), region
        expected = expected_grants(routed, region)
        assert set(granted) == (expected or set()), region
        assert not any("*" in arn for arn in granted)
        assert bedrock_grants(template, quiet_role, region) == []
    assert asks.models == routed


def test_the_us_east_1_grant_of_claude_is_its_profile_and_the_model_where_the_profile_routes() -> None:
    # Given a function that routes to Claude 3.5 Haiku only, served on demand only through a profile
    stack = cdk.Stack(cdk.App(), "Claude")
    claude = "anthropic.claude-3-5-haiku-20241022-v1:0"
    function = CapabilityFunction(
        stack,
        "ClaudeFunction",
        capability="claude",
        code_dir=ROOT / "tests/infra/fixtures/echo",
        models=[claude],
    )
    template = Template.from_stack(stack).to_json()
    role = stack.get_logical_id(function.role.node.default_child)  # type: ignore[arg-type]
    # Then it is one policy for the three US regions, with no condition, written with no literal partition
    assert sorted(function.model_policies) == ["BedrockUs"]
    assert sorted(bedrock_grants(template, role, "us-east-1")) == [
        f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}:inference-profile/us.{claude}",
        f"arn:${{AWS::Partition}}:bedrock:us-east-1::foundation-model/{claude}",
        f"arn:${{AWS::Partition}}:bedrock:us-east-2::foundation-model/{claude}",
        f"arn:${{AWS::Partition}}:bedrock:us-west-2::foundation-model/{claude}",
    ]
    assert "arn:aws:" not in json.dumps(template)
    # And a deploy to any other region is refused by its rule, before anything is created
    assert rule_regions(template, "ClaudeFunctionModelsInRegion") == ["us-east-1", "us-east-2", "us-west-2"]
    assert bedrock_grants(template, role, "eu-west-1") != []  # the policy has no condition: the rule guards


def test_regions_that_call_a_model_differently_get_policies_of_their_own(
    stack: cdk.Stack, echo_code: Path
) -> None:
    # Given a function that routes to Nova Lite: by its own id in us-east-1, through a profile elsewhere
    nova = "amazon.nova-lite-v1:0"
    function = CapabilityFunction(stack, "NovaFunction", capability="nova", code_dir=echo_code, models=[nova])
    template = Template.from_stack(stack).to_json()
    role = stack.get_logical_id(function.role.node.default_child)  # type: ignore[arg-type]
    # Then each way of calling it is a policy, created only in the regions that call it that way
    assert sorted(function.model_policies) == ["BedrockApac", "BedrockEu", "BedrockInRegion", "BedrockUs"]
    assert bedrock_grants(template, role, "us-east-1") == [
        f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{nova}"
    ]
    eu = bedrock_grants(template, role, "eu-west-1")
    assert (
        eu[0]
        == f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}:inference-profile/eu.{nova}"
    )
    assert f"arn:${{AWS::Partition}}:bedrock:eu-central-1::foundation-model/{nova}" in eu
    assert bedrock_grants(template, role, "sa-east-1") == []
    assert "sa-east-1" not in (rule_regions(template, "NovaFunctionModelsInRegion") or [])


def test_a_known_deploy_region_where_a_routed_model_has_no_id_is_refused_at_synth(
    echo_code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the region the CDK CLI passes the app, where Claude 3.5 Haiku has no id
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    stack = cdk.Stack(cdk.App(), "Europe")
    # Then a function routed to it is refused, naming the setting, the route and the fixes
    with pytest.raises(RegionError) as refused:
        CapabilityFunction(
            stack,
            "ClassifyFunction",
            capability="classify",
            code_dir=echo_code,
            models=["amazon.nova-lite-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"],
        )
    message = str(refused.value)
    for words in [
        "region 'eu-west-1' (from CDK_DEFAULT_REGION)",
        "functions/classify/capability.toml [model] routes to anthropic.claude-3-5-haiku-20241022-v1:0",
        "policies/routing.toml gives no id in eu-west-1",
        "Fix: deploy to one of us-east-1, us-east-2, us-west-2",
        "docs/capabilities.md#models-per-region",
    ]:
        assert words in message, message


def test_a_function_that_answers_task_tokens_gets_them_in_a_policy_of_its_own(
    stack: cdk.Stack, echo_code: Path
) -> None:
    # Given a function that answers task tokens
    worker = CapabilityFunction(
        stack, "WorkerFunction", capability="worker", code_dir=echo_code, answers_task_tokens=True
    )
    # Then its SendTask* permissions sit in a separate policy, on its role, with its own acknowledgement
    policy = worker.node.find_child("TaskTokenPolicy")
    resources = Template.from_stack(stack).to_json()["Resources"]
    found = resources[stack.get_logical_id(policy.node.default_child)]["Properties"]  # type: ignore[arg-type]
    assert found["Roles"] == [{"Ref": stack.get_logical_id(worker.role.node.default_child)}]  # type: ignore[arg-type]
    (statement,) = found["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
    }
    assert statement["Resource"] == "*"
    # And no other policy of the function grants states actions
    others = [
        r for r in resources.values() if r["Type"] == "AWS::IAM::Policy" and r["Properties"] is not found
    ]
    assert "states:" not in json.dumps(others)


def pinned_powertools() -> str:
    """The release requirements.txt pins, read here on its own, not through the code under test."""
    pinned = re.search(
        r"^aws_lambda_powertools==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE
    )
    assert pinned is not None
    return pinned.group(1)


def test_the_powertools_layer_is_the_pinned_release_read_from_ssm_at_deploy(
    stack: cdk.Stack, echo_code: Path
) -> None:
    # Given a capability
    CapabilityFunction(stack, "EchoFunction", capability="echo", code_dir=echo_code)
    # When the stack is synthesized
    template = Template.from_stack(stack).to_json()
    # Then the layer ARN is a parameter CloudFormation reads from Powertools' public SSM parameter
    # for the release requirements.txt pins, python3.12, arm64
    parameter = template["Parameters"][POWERTOOLS_PARAMETER_ID]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.12/{pinned_powertools()}"
    # And the function's first layer is that parameter's value
    (function,) = (r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    assert function["Properties"]["Layers"][0] == {"Ref": POWERTOOLS_PARAMETER_ID}
    assert function["Properties"]["Runtime"] == "python3.12"
    assert function["Properties"]["Architectures"] == ["arm64"]


def test_the_pin_is_read_whatever_the_spelling_of_the_name(tmp_path: Path) -> None:
    # Given requirements files naming the distribution as pip and pip freeze may spell it
    for spelling in ("aws-lambda-powertools", "aws_lambda_powertools", "AWS.Lambda.Powertools"):
        requirements = tmp_path / f"{spelling}.txt"
        requirements.write_text(f"boto3==1.0.0\n{spelling}==3.99.1  # pinned\nmoto==5.2.5\n")
        # Then the pinned release is read
        assert powertools_version(requirements) == "3.99.1"
    # And a file without the pin is refused, naming what to pin
    unpinned = tmp_path / "unpinned.txt"
    unpinned.write_text("aws-lambda-powertools>=3\n")
    with pytest.raises(ValueError, match=r"no aws-lambda-powertools==<version> pin"):
        powertools_version(unpinned)


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "af-south-1", "me-south-1"])
def test_a_stack_in_a_region_the_stack_does_not_support_is_refused(echo_code: Path, region: str) -> None:
    # Given a stack bound to a region without the Powertools parameter, or without Bedrock's runtime
    stack = cdk.Stack(cdk.App(), "Elsewhere", env=cdk.Environment(region=region))
    # Then its first capability is refused, naming the region, the setting and the fix
    with pytest.raises(RegionError) as refused:
        CapabilityFunction(stack, "EchoFunction", capability="echo", code_dir=echo_code)
    message = str(refused.value)
    assert f"region {region!r} (from the env region of stack Elsewhere)" in message
    assert "Fix: deploy to a supported region" in message
    assert ", ".join(SUPPORTED_REGIONS) in message


def test_a_stack_in_a_supported_region_is_built_with_the_regions_rule(echo_code: Path) -> None:
    # Given a stack bound to a supported region
    stack = cdk.Stack(cdk.App(), "Frankfurt", env=cdk.Environment(region="eu-central-1"))
    CapabilityFunction(stack, "EchoFunction", capability="echo", code_dir=echo_code)
    # Then it carries the rule that refuses, at deploy, a region outside the list
    (assertion,) = Template.from_stack(stack).to_json()["Rules"][RULE_ID]["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [list(SUPPORTED_REGIONS), {"Ref": "AWS::Region"}]}


def test_the_template_names_no_publisher_account_and_no_partition_outside_the_flows(
    synthesized: Synthesized,
) -> None:
    # Given the product's template
    template = synthesized.template.to_json()
    # Then no publisher account is written in it: the layer's ARN is SSM's answer
    assert "017000801446" not in json.dumps(template)
    # And every function's Powertools layer is that answer
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    assert all(f["Properties"]["Layers"][0] == {"Ref": POWERTOOLS_PARAMETER_ID} for f in functions)
    # And no literal partition is written outside the flows' definitions (their service
    # integrations, arn:aws:states:::…, are the flows' own: infra/constructs/flow.py)
    outside = {
        key: resource
        for key, resource in template["Resources"].items()
        if resource["Type"] != "AWS::StepFunctions::StateMachine"
    }
    assert not re.findall(r"arn:aws[-a-z]*:", json.dumps({**template, "Resources": outside}))
    # And the regions the stack supports are asserted at deploy
    assert template["Rules"][RULE_ID]["Assertions"][0]["Assert"]["Fn::Contains"][0] == list(SUPPORTED_REGIONS)
