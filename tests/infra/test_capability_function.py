"""CapabilityFunction: the Lambda defaults, held in one place."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.constructs.capability_function import CapabilityFunction


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
