"""SSM parameter types in the local cloud's CloudFormation, and the Powertools layer parameter it serves.

AWS's rule (CloudFormation User Guide, "Specify existing resources at runtime with
CloudFormation-supplied parameter types"): a template parameter of type
``AWS::SSM::Parameter::Value<String>`` holds a Parameter Store name; CloudFormation reads that
parameter's value when it creates or updates the stack, and ``Ref`` gives the value. A name
Parameter Store does not hold fails the call before any resource is created: ``ValidationError:
Unable to fetch parameters [<name>] from parameter store for this account.``

The stack's Powertools layer is such a parameter (infra/constructs/capability_function.py),
naming the release requirements.txt pins; the local cloud answers it (localcloud/patches/ssm.py).
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import Deployment, LocalCloud
from localcloud.lambdas import is_provided_layer

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.search(r"^aws_lambda_powertools==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
assert PINNED is not None, "requirements.txt pins aws_lambda_powertools"
POWERTOOLS = PINNED.group(1)
LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.12/{POWERTOOLS}"


def a_stack_reading(parameter: str) -> dict[str, Any]:
    """A template whose one parameter is an SSM parameter type, and whose output is its value."""
    return {
        "Parameters": {"Layer": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": parameter}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"LayerArn": {"Value": {"Ref": "Layer"}}},
    }


def test_the_environment_runs_the_pinned_powertools() -> None:
    # The local functions import the environment's Powertools in place of the layer's
    assert version("aws-lambda-powertools") == POWERTOOLS


def test_the_pinned_releases_layer_parameter_names_a_powertools_layer_of_the_region(
    cloud: LocalCloud,
) -> None:
    # When the pinned release's parameter is read
    value = cloud.client("ssm").get_parameter(Name=LAYER_PARAMETER)["Parameter"]["Value"]
    # Then it is the ARN of Powertools' python3.12 arm64 layer in the cloud's region
    assert re.fullmatch(
        rf"arn:aws:lambda:{cloud.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:\d+",
        value,
    ), value
    # And the local Lambda provides that layer from its own environment
    assert is_provided_layer(value)


def test_another_releases_parameter_is_not_found(cloud: LocalCloud) -> None:
    # Given a release the local cloud does not run
    other = "/aws/service/powertools/python/arm64/python3.12/3.0.0"
    # Then its parameter is not there: the local cloud cannot provide that release
    with pytest.raises(ClientError) as refused:
        cloud.client("ssm").get_parameter(Name=other)
    assert refused.value.response["Error"]["Code"] == "ParameterNotFound"


def test_cloudformation_resolves_an_ssm_parameter_type_at_create(cloud: LocalCloud) -> None:
    # Given a stack whose parameter names the pinned release's layer parameter
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="ReadsTheLayer", TemplateBody=json.dumps(a_stack_reading(LAYER_PARAMETER)))
    # Then Ref gives the parameter's value, not its name
    stack = cfn.describe_stacks(StackName="ReadsTheLayer")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert (
        outputs["LayerArn"] == cloud.client("ssm").get_parameter(Name=LAYER_PARAMETER)["Parameter"]["Value"]
    )


def test_a_parameter_parameter_store_lacks_fails_the_create_with_validation_error(cloud: LocalCloud) -> None:
    # Given a stack naming a parameter that Parameter Store does not hold
    missing = "/aiflows/no/such/parameter"
    # When it is created, then CloudFormation refuses it, naming the parameter
    with pytest.raises(ClientError) as refused:
        cloud.client("cloudformation").create_stack(
            StackName="ReadsNothing", TemplateBody=json.dumps(a_stack_reading(missing))
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert (
        error["Message"] == f"Unable to fetch parameters [{missing}] from parameter store for this account."
    )


def test_the_deployed_functions_carry_the_layer_of_the_pinned_release(
    cloud: LocalCloud, app: Deployment
) -> None:
    # Given the product's app, deployed into the local cloud
    layer = cloud.client("ssm").get_parameter(Name=LAYER_PARAMETER)["Parameter"]["Value"]
    functions = [
        physical
        for logical, physical in app.resources.items()
        if app.resource_types[logical] == "AWS::Lambda::Function"
    ]
    assert functions
    # Then every function carries the layer the pinned release's parameter resolves to
    aws_lambda = cloud.client("lambda")
    for name in functions:
        arns = [entry["Arn"] for entry in aws_lambda.get_function_configuration(FunctionName=name)["Layers"]]
        assert layer in arns, (name, arns)
