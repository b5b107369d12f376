"""DescribeStacks lists every output of the deployed template, as AWS does (cloud.deploy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcloud import Deployment, LocalCloud


def refs(value: Any) -> set[str]:
    """The logical ids a template value names (Ref, Fn::GetAtt), however deep."""
    if isinstance(value, dict):
        found = {str(value["Ref"])} if "Ref" in value else set()
        if "Fn::GetAtt" in value:
            found.add(str(value["Fn::GetAtt"][0]))
        return found.union(*(refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(refs(v) for v in value))
    return set()


def test_describe_stacks_lists_every_output_of_the_template_with_the_version_arns(
    cloud: LocalCloud, app: Deployment, app_assembly: Path
) -> None:
    # AWS: DescribeStacks' Outputs are the stack's outputs, each with its value; moto left out
    # the ones that name a state machine version, which it does not model
    template = json.loads((app_assembly / f"{app.stack_name}.template.json").read_text())
    described = cloud.client("cloudformation").describe_stacks(StackName=app.stack_name)["Stacks"][0]
    listed = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    # (every one but those that name a resource of a type the local cloud does not model)
    unmodeled = {
        logical for logical, resource in template["Resources"].items() if resource["Type"] in app.not_modeled
    }
    naming_unmodeled = {
        key for key, output in template["Outputs"].items() if unmodeled & refs(output["Value"])
    }
    assert set(template["Outputs"]) - naming_unmodeled <= set(listed) <= set(template["Outputs"])
    versions = {key: value for key, value in listed.items() if key.endswith("VersionArn")}
    assert versions and all(value.rsplit(":", 1)[-1].isdigit() for value in versions.values()), versions
    assert versions == {key: app.outputs[key] for key in versions}


def test_the_review_apis_stage_is_on_its_deployment_and_names_the_invoke_url(
    cloud: LocalCloud, app: Deployment, app_assembly: Path
) -> None:
    # AWS::ApiGateway::Stage's Ref is the stage's name (CloudFormation's return values); moto skipped
    # the stage, and the invoke URL the stack outputs read .../None/
    template = json.loads((app_assembly / f"{app.stack_name}.template.json").read_text())
    [(logical, stage)] = [
        (k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    name = stage["Properties"]["StageName"]
    assert app.outputs["ReviewApiUrl"].endswith(f".amazonaws.com/{name}/")
    assert "AWS::ApiGateway::Stage" not in app.not_modeled and app.resources[logical] == name
    # and the stage is API Gateway's, on the deployment the template names, traced as it says
    api = cloud.client("apigateway")
    rest_api = app.resources[stage["Properties"]["RestApiId"]["Ref"]]
    [served] = api.get_stages(restApiId=rest_api)["item"]
    assert served["stageName"] == name
    assert served["deploymentId"] == app.resources[stage["Properties"]["DeploymentId"]["Ref"]]
    assert served["tracingEnabled"] is True
