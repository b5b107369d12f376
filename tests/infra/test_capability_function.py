"""CapabilityFunction: the Lambda defaults, held in one place."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from aiflows.registry import capabilities
from aiflows_runtime.manifest import ModelRoute
from infra.constructs.capability_function import CapabilityFunction, foundation_model_arn


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
    CapabilityFunction(stack, "QuietFunction", capability="quiet", code_dir=echo_code)
    # When the stack is synthesized
    template = Template.from_stack(stack).to_json()
    statements = {
        policy["Properties"]["Roles"][0]["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
    }
    asks_role = stack.get_logical_id(asks.role.node.default_child)  # type: ignore[arg-type]
    # Then only the asking function may call Bedrock, on the route's foundation models, in this region
    bedrock = {
        role: [s for s in found if "bedrock" in json.dumps(s["Action"])] for role, found in statements.items()
    }
    assert [role for role, found in bedrock.items() if found] == [asks_role]
    (statement,) = bedrock[asks_role]
    assert statement["Action"] == "bedrock:InvokeModel"
    assert stack.resolve(statement["Resource"]) == [
        stack.resolve(foundation_model_arn(stack, model)) for model in routed
    ]
    assert asks.models == routed


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
