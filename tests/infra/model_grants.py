"""Reading a template's Bedrock grants as a region would see them, and what routing.toml says they must be.

The template names no region: a function's grants are IAM policies, each created only in the regions
of its CloudFormation condition. These helpers evaluate the conditions for one region and write each
granted ARN out as text (``arn:${AWS::Partition}:bedrock:${AWS::Region}:...``), so that a test compares
strings, written here from the Bedrock user guide's rules, not from the construct's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiflows_runtime.policies import routing_policy

PARTITION = "${AWS::Partition}"


def text(value: Any) -> str:
    """A resolved template value as text: ``Ref``s as ``${Name}``, ``Fn::Join`` joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(text(part) for part in parts)
    raise AssertionError(f"not a value these tests read: {value}")


def holds(expression: Any, region: str, conditions: dict[str, Any]) -> bool:
    """Whether a condition expression (Fn::Equals on AWS::Region, Fn::Or, Condition) holds in ``region``."""
    if "Condition" in expression:
        return holds(conditions[expression["Condition"]], region, conditions)
    if "Fn::Or" in expression:
        return any(holds(term, region, conditions) for term in expression["Fn::Or"])
    if "Fn::Equals" in expression:
        left, right = expression["Fn::Equals"]
        assert left == {"Ref": "AWS::Region"}, expression
        return right == region
    raise AssertionError(f"not a condition these tests read: {expression}")


def bedrock_grants(template: dict[str, Any], role_logical_id: str, region: str) -> list[str]:
    """Every resource the role may ``bedrock:*`` on when the stack is deployed in ``region``."""
    conditions = template.get("Conditions", {})
    granted: list[str] = []
    for policy in template["Resources"].values():
        if (
            policy["Type"] != "AWS::IAM::Policy"
            or {"Ref": role_logical_id} not in policy["Properties"]["Roles"]
        ):
            continue
        if "Condition" in policy and not holds(conditions[policy["Condition"]], region, conditions):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(action.startswith("bedrock:") for action in actions):
                assert actions == ["bedrock:InvokeModel"], statement
                assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
                resources = statement["Resource"]
                granted += [text(r) for r in (resources if isinstance(resources, list) else [resources])]
    return granted


def expected_grants(models: Sequence[str], region: str) -> set[str] | None:
    """What a route's function needs in ``region``, per the user guide; None where a model has no id there.

    In region: the foundation model in the calling region. Through a cross-region profile: the
    profile in the calling region, and the foundation model in each region the profile routes to.
    """
    policy = routing_policy()
    needed: set[str] = set()
    for model in models:
        entry = policy.models[model]
        if region in entry.in_region:
            needed.add(f"arn:{PARTITION}:bedrock:${{AWS::Region}}::foundation-model/{model}")
            continue
        through = [(geography, p) for geography, p in entry.profiles.items() if region in p.sources]
        if not through:
            return None
        [(geography, profile)] = through
        needed.add(
            f"arn:{PARTITION}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}:inference-profile/{geography}.{model}"
        )
        needed |= {f"arn:{PARTITION}:bedrock:{to}::foundation-model/{model}" for to in profile.destinations}
    return needed


def rule_regions(template: dict[str, Any], path_fragment: str) -> list[str] | None:
    """The regions a rule whose logical id holds ``path_fragment`` lets a deploy into (Fn::Contains)."""
    found = [rule for name, rule in template.get("Rules", {}).items() if path_fragment in name]
    if not found:
        return None
    [rule] = found
    [assertion] = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    return list(regions)
