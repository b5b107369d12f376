"""The locked bus: who may put which events on it, and rules that match their sources exactly."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from aiflows.flows import flows
from infra.constructs.event_bus import PUBLISHERS_CONTEXT, BusPublishersError, EventBus
from tests.infra.conftest import Synthesized

# What the bus lets others put, from the same manifests the stack builds its rules from
TRIGGERS = [trigger for flow in flows().values() for trigger in flow.manifest.triggers]
SOURCES = {source for trigger in TRIGGERS for source in trigger.source}
DETAIL_TYPES = {detail_type for trigger in TRIGGERS for detail_type in trigger.detail_type}
ANYONE = {"AWS": "*"}


def bus_policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bus's policy statements, by Sid."""
    found = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Events::EventBusPolicy"
    ]
    assert all(p["StatementId"] == p["Statement"]["Sid"] for p in found)
    return {p["Statement"]["Sid"]: p["Statement"] for p in found}


def put_events_grantees(template: dict[str, Any], bus_arn: dict[str, Any]) -> list[dict[str, Any]]:
    """The ARN of every role an IAM policy of the template lets put events on the bus."""
    roles = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "events:PutEvents" in actions and bus_arn in [statement["Resource"]]:
                roles += [{"Fn::GetAtt": [ref["Ref"], "Arn"]} for ref in resource["Properties"]["Roles"]]
    return roles


def test_only_the_stacks_producers_and_account_may_put_events_and_only_the_triggers(
    synthesized: Synthesized,
) -> None:
    # Given the stack as deployed with no bus_publishers: the stack's own account publishes
    template = synthesized.template.to_json()
    bus_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.event_bus.event_bus), "Arn"]}
    statements = bus_policies(template)
    # The stack's producers: exactly the roles its IAM policies let put events on the bus
    producers = put_events_grantees(template, bus_arn)
    assert len(producers) >= len(flows()), "every flow's failure path puts flow.failed on the bus"

    # Then a principal of another account that is not a producer may put nothing
    unnamed = statements["aiflows-deny-unnamed-principals"]
    assert (unnamed["Effect"], unnamed["Principal"], unnamed["Action"], unnamed["Resource"]) == (
        "Deny",
        ANYONE,
        "events:PutEvents",
        bus_arn,
    )
    assert unnamed["Condition"]["StringNotEquals"] == {"aws:PrincipalAccount": [{"Ref": "AWS::AccountId"}]}
    assert sorted(map(str, unnamed["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])) == sorted(
        map(str, producers)
    ), "a role may put events on the bus (IAM), and the bus denies it: grant it with grant_put_events_to"

    # And anyone but a producer, the account's own principals too, may put only a trigger's source and type
    for sid, key, allowed in (
        ("aiflows-deny-other-sources", "events:source", SOURCES),
        ("aiflows-deny-other-detail-types", "events:detail-type", DETAIL_TYPES),
    ):
        deny = statements[sid]
        assert (deny["Effect"], deny["Principal"], deny["Action"], deny["Resource"]) == (
            "Deny",
            ANYONE,
            "events:PutEvents",
            bus_arn,
        )
        assert set(deny["Condition"]["StringNotEquals"][key]) == allowed
        assert sorted(map(str, deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])) == sorted(
            map(str, producers)
        )

    # And the one allow names the account, for the triggers only; there is nothing else in the policy
    allow = statements["aiflows-allow-publishers"]
    assert allow["Effect"] == "Allow" and allow["Resource"] == bus_arn
    assert allow["Principal"] == {
        "AWS": [
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"],
                ]
            }
        ]
    }
    assert {k: set(v) for k, v in allow["Condition"]["StringEquals"].items()} == {
        "events:source": SOURCES,
        "events:detail-type": DETAIL_TYPES,
    }
    assert len(statements) == 4


def test_each_rule_matches_its_triggers_source_and_detail_type_exactly(synthesized: Synthesized) -> None:
    # Given every trigger of every flow's manifest
    patterns = [
        r["Properties"]["EventPattern"]
        for r in synthesized.template.to_json()["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    ]
    # Then each is one rule whose pattern is its source and detail-type, as plain strings:
    # EventBridge matches a string exactly, character by character; no prefix, suffix or wildcard filter
    expected = [{"source": list(t.source), "detail-type": list(t.detail_type)} for t in TRIGGERS]
    assert sorted(map(_canonical, patterns)) == sorted(map(_canonical, expected))
    assert all(isinstance(v, str) for p in patterns for values in p.values() for v in values)


def _canonical(pattern: dict[str, Any]) -> str:
    return json.dumps(pattern, sort_keys=True)


def test_named_publishers_replace_the_account_and_each_producer_stays_exempt() -> None:
    # Given a bus whose publishers are another account and a role, and a function role that puts events
    named = "111122223333, arn:aws:iam::444455556666:role/intake"
    stack = cdk.Stack(cdk.App(context={PUBLISHERS_CONTEXT: named}), "Named")
    bus = EventBus(stack, "Bus")
    producer = iam.Role(stack, "Producer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    bus.event_bus.grant_put_events_to(producer)
    # When it is synthesized, before any rule is added
    statements = bus_policies(Template.from_stack(stack).to_json())
    producer_arn = {"Fn::GetAtt": [stack.get_logical_id(producer.node.default_child), "Arn"]}

    # Then only the named account, the named role and the producer escape the first deny
    assert statements["aiflows-deny-unnamed-principals"]["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": ["111122223333"]},
        "ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::444455556666:role/intake", producer_arn]},
    }
    # And the allow names them, not the stack's own account
    assert statements["aiflows-allow-publishers"]["Principal"] == {
        "AWS": [
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::111122223333:root"]]},
            "arn:aws:iam::444455556666:role/intake",
        ]
    }
    # And with no rule yet, no source is a trigger's: nobody but the producer may put anything
    assert statements["aiflows-deny-other-sources"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [producer_arn]}
    }


@pytest.mark.parametrize("value", ["arn:aws:iam::444455556666:user/alice", "1234", "", "*"])
def test_a_publisher_that_is_not_an_account_or_a_role_is_refused(value: str) -> None:
    # Given bus_publishers naming a user, a short account id, nothing, or everyone
    stack = cdk.Stack(cdk.App(context={PUBLISHERS_CONTEXT: value}), "Bad")
    # Then the bus is refused, with the setting's name and what it takes
    with pytest.raises(
        BusPublishersError, match=r"bus_publishers: .*account id \(12 digits\) or an IAM role ARN"
    ):
        EventBus(stack, "Bus")


def test_a_grant_to_a_principal_without_a_role_is_refused(stack: cdk.Stack) -> None:
    # Given the bus, which exempts its producers from its denies by their role ARN
    bus = EventBus(stack, "Bus")
    # Then a grant it could not exempt is refused at synth, not denied at run time
    with pytest.raises(TypeError, match="exempts its producers by their role"):
        bus.event_bus.grant_put_events_to(iam.ServicePrincipal("scheduler.amazonaws.com"))
