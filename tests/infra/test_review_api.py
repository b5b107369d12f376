"""The review API: Cognito in front of every API route, a public console page, a traced, throttled stage."""

from __future__ import annotations

import json

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


def test_the_review_api_announces_its_decisions_on_the_bus_as_a_producer(synthesized: Synthesized) -> None:
    resources = synthesized.template.to_json()["Resources"]
    [function] = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Environment"]["Variables"].get("CAPABILITY") == "review_api"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["EVENT_BUS_NAME"] == {
        "Ref": synthesized.logical_id(synthesized.stack.event_bus.event_bus)
    }
    assert variables["AUDIT_RETENTION_DAYS"] == "400"
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    # the bus's policy exempts its producers by role: review.decided is the review API's to put
    assert any(
        role in json.dumps(statement.get("Condition", {}))
        for r in resources.values()
        if r["Type"] == "AWS::Events::EventBusPolicy"
        for statement in [r["Properties"]["Statement"]]
    )


def test_no_function_may_change_or_delete_an_audit_record(synthesized: Synthesized) -> None:
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in synthesized.template.to_json()["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
    ]
    # (a flow's own role puts its event's claim, start#<id>, and changes nothing: conditions/grants of weave)
    writers = [
        s
        for s in policies
        if any(x["Effect"] == "Allow" and "dynamodb:UpdateItem" in json.dumps(x.get("Action")) for x in s)
    ]
    assert len(writers) >= 12  # every function: the capabilities and the review API
    for statements in writers:
        [deny] = [s for s in statements if s["Effect"] == "Deny"]
        assert set(deny["Action"]) >= {
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        }
        assert deny["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["audit#*"]}}
