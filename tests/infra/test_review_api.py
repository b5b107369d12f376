"""The review API: Cognito in front of every API route, a public console page, a traced, throttled stage."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized


def methods(synthesized: Synthesized) -> dict[str, dict]:
    """Each API method by its HTTP verb and resource path."""
    template = synthesized.template.to_json()["Resources"]
    paths = {}
    for logical_id, resource in template.items():
        if resource["Type"] == "AWS::ApiGateway::Resource":
            paths[logical_id] = resource["Properties"]["PathPart"]
    found = {}
    for resource in template.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        properties = resource["Properties"]
        parent = properties["ResourceId"]
        parts = []
        while isinstance(parent, dict) and "Ref" in parent:
            parts.insert(0, paths[parent["Ref"]])
            parent = template[parent["Ref"]]["Properties"]["ParentId"]
        found[f"{properties['HttpMethod']} /{'/'.join(parts)}"] = properties
    return found


def test_every_api_route_needs_a_cognito_token_and_the_console_page_does_not(
    synthesized: Synthesized,
) -> None:
    found = methods(synthesized)
    assert set(found) == {
        "GET /",
        "GET /console/{name}",
        "GET /reviews",
        "GET /reviews/{review_id}",
        "POST /reviews/{review_id}/decision",
        "GET /feedback.jsonl",
    }
    for route, properties in found.items():
        public = route in ("GET /", "GET /console/{name}")
        assert properties["AuthorizationType"] == ("NONE" if public else "COGNITO_USER_POOLS"), route
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "COGNITO_USER_POOLS", "IdentitySource": "method.request.header.Authorization"},
    )


def test_reviewers_sign_in_with_mfa_and_cannot_sign_themselves_up(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}, "MfaConfiguration": "ON"},
    )


def test_the_stage_is_traced_logged_and_throttled(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {"ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40, "LoggingLevel": "INFO"}
                    )
                ]
            ),
        },
    )


def test_the_review_function_answers_task_tokens_and_reads_the_state(synthesized: Synthesized) -> None:
    function = synthesized.stack.review_api.handler.function
    properties = synthesized.template.to_json()["Resources"][synthesized.logical_id(function)]["Properties"]
    variables = properties["Environment"]["Variables"]
    assert variables["CAPABILITY"] == "review_api"
    assert set(variables) >= {"STATE_TABLE_NAME", "CLAIM_BUCKET"}
    role = synthesized.logical_id(synthesized.stack.review_api.handler.role)
    policies = synthesized.template.find_resources("AWS::IAM::Policy")
    actions = {
        action
        for policy in policies.values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "dynamodb:UpdateItem",
        "s3:GetObject",
    } <= actions
    assert not any(a.startswith("bedrock:") or a == "s3:PutObject" for a in actions)
