"""The managed guardrail (-c managed_guardrail=true): from the guard's policy, versioned, least privilege."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aiflows_runtime.policies import GuardPolicy, guard_policy
from infra.constructs.guardrail import (
    BEDROCK_PII_ACTIONS,
    BEDROCK_PII_TYPES,
    GuardrailError,
    pii_entities,
)
from infra.nag import findings
from localcloud.model import LOCAL_PII_TYPES
from tests.infra.conftest import Synthesized, _synthesize, refused_synth

Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def managed(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synthesize(tmp_path_factory.mktemp("aiflows-guardrail.out"), {"managed_guardrail": "true"})


def of_type(resources: Resources, kind: str) -> dict[str, dict[str, Any]]:
    return {logical: r for logical, r in resources.items() if r["Type"] == kind}


def guard_function(synthesized: Synthesized) -> dict[str, Any]:
    guard = synthesized.stack.functions["GuardFunction"]  # type: ignore[attr-defined]
    resources = synthesized.template.to_json()["Resources"]
    return dict(resources[synthesized.logical_id(guard.function)])


def apply_statements(resources: Resources) -> list[dict[str, Any]]:
    return [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "bedrock:ApplyGuardrail" in str(statement["Action"])
    ]


def test_the_guardrail_filters_prompt_attacks_and_the_pii_the_guard_policy_names(
    managed: Synthesized,
) -> None:
    # Given the app synthesized with -c managed_guardrail=true
    resources = managed.template.to_json()["Resources"]
    # Then it has one guardrail
    ((logical, guardrail),) = of_type(resources, "AWS::Bedrock::Guardrail").items()
    properties = guardrail["Properties"]
    # with the prompt-attack filter on the input only (Bedrock requires NONE on the output)
    assert properties["ContentPolicyConfig"] == {
        "FiltersConfig": [{"Type": "PROMPT_ATTACK", "InputStrength": "HIGH", "OutputStrength": "NONE"}]
    }
    # and a PII entity for each Bedrock type of each kind guard.toml names, with its outcome's action
    policy = guard_policy()
    expected = {t for kind in policy.pii for t in BEDROCK_PII_TYPES[kind]}
    entities = properties["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"]
    assert {e["Type"] for e in entities} == expected
    assert {"EMAIL", "PHONE", "CREDIT_DEBIT_CARD_NUMBER", "INTERNATIONAL_BANK_ACCOUNT_NUMBER"} <= expected
    assert {e["Action"] for e in entities} == {BEDROCK_PII_ACTIONS[policy.outcomes.pii]} == {"ANONYMIZE"}
    # and the messages CloudFormation requires
    assert properties["BlockedInputMessaging"] and properties["BlockedOutputsMessaging"]
    assert re.fullmatch(r"[0-9a-zA-Z_-]{1,50}", properties["Name"]), properties["Name"]
    # And a version of it, whose description changes with the configuration (a new version)
    ((version_id, version),) = of_type(resources, "AWS::Bedrock::GuardrailVersion").items()
    assert version["Properties"]["GuardrailIdentifier"] == {"Fn::GetAtt": [logical, "GuardrailId"]}
    assert policy.version in version["Properties"]["Description"]
    # And the guard calls that version of that guardrail
    variables = guard_function(managed)["Properties"]["Environment"]["Variables"]
    assert variables["BEDROCK_GUARDRAIL_ID"] == {"Fn::GetAtt": [logical, "GuardrailId"]}
    assert variables["BEDROCK_GUARDRAIL_VERSION"] == {"Fn::GetAtt": [version_id, "Version"]}
    # And may apply exactly that guardrail (ApplyGuardrail authorizes on the guardrail's ARN)
    assert apply_statements(resources) == [
        {
            "Action": "bedrock:ApplyGuardrail",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [logical, "GuardrailArn"]},
        }
    ]


def test_cdk_nag_stays_clean_with_the_managed_guardrail(managed: Synthesized) -> None:
    assert findings(managed.assembly_dir) == []


def test_without_the_flag_there_is_no_guardrail(synthesized: Synthesized) -> None:
    resources = synthesized.template.to_json()["Resources"]
    assert not of_type(resources, "AWS::Bedrock::Guardrail")
    assert not of_type(resources, "AWS::Bedrock::GuardrailVersion")
    assert not apply_statements(resources)
    variables = guard_function(synthesized)["Properties"]["Environment"]["Variables"]
    assert "BEDROCK_GUARDRAIL_ID" not in variables and "BEDROCK_GUARDRAIL_VERSION" not in variables


def test_the_managed_guardrail_and_a_guardrail_of_your_own_are_refused_together(tmp_path: Path) -> None:
    # Given both flags
    printed = refused_synth(tmp_path, {"managed_guardrail": "true", "bedrock_guardrail_id": "abc123xyz"})
    # Then synth fails with one line naming both and the fix, and writes no template
    assert re.search(
        r"^error: context managed_guardrail=true .+ bedrock_guardrail_id=abc123xyz .+ "
        r"Drop -c bedrock_guardrail_id .+ or drop -c managed_guardrail to use yours$",
        printed,
        flags=re.MULTILINE,
    ), printed[-2000:]


def test_a_pii_kind_without_a_bedrock_type_is_refused_at_synth() -> None:
    # Given a guard policy that names a kind Bedrock has no PII type for
    policy = GuardPolicy.model_validate(
        {**guard_policy().model_dump(), "pii": {**guard_policy().pii, "passport_de": "high"}}
    )
    # Then building the guardrail's PII entities says which kind and how to fix it
    with pytest.raises(
        GuardrailError, match=r"names passport_de, which has no Amazon Bedrock PII entity type"
    ):
        pii_entities(policy)


def test_the_local_cloud_detects_every_bedrock_type_the_guardrail_configures() -> None:
    # The local Bedrock (localcloud/model.py) knows how to detect each type, by the guard's own kind
    for kind, types in BEDROCK_PII_TYPES.items():
        for bedrock_type in types:
            assert LOCAL_PII_TYPES[bedrock_type][0] == kind, bedrock_type


def test_the_guardrails_page_lists_the_mapping_the_synth_uses() -> None:
    # docs/guardrails.md's table of the guard's kinds and Bedrock's types is BEDROCK_PII_TYPES
    page = (Path(__file__).resolve().parents[2] / "docs" / "guardrails.md").read_text()
    rows = dict(re.findall(r"^ *\| `([a-z_]+)` \| (.+) \|$", page, flags=re.MULTILINE))
    listed = {kind: tuple(re.findall(r"`([A-Z_]+)`", rows[kind])) for kind in BEDROCK_PII_TYPES}
    assert listed == BEDROCK_PII_TYPES
    assert set(guard_policy().pii) <= set(rows)
