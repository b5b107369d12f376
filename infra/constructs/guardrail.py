"""The managed guardrail: Amazon Bedrock Guardrails for the guard step, created with the stack.

``-c managed_guardrail=true`` creates an ``AWS::Bedrock::Guardrail`` and a version of it, and
has the guard call ``ApplyGuardrail`` on that version (docs/guardrails.md#the-managed-guardrail):

- the prompt-attack filter on the untrusted input: ``PROMPT_ATTACK`` at ``HIGH`` on input and
  ``NONE`` on output, which is the only output strength Bedrock accepts for it (the guard sends
  the document alone, as ``INPUT``: all of it is the untrusted content the filter reads);
- a PII entity for each kind the guard's own policy names (``[pii]`` in
  ``aiflows_runtime/policies/guard.toml``), with the action its PII outcome asks for. The list is
  read from that file at synth: a kind added there is a kind the guardrail detects, or the synth
  says why it cannot be (:data:`BEDROCK_PII_TYPES`, :data:`GUARD_ONLY`).

A version is a snapshot (``AWS::Bedrock::GuardrailVersion``, whose properties all require
replacement): its description carries a digest of the guardrail's configuration, so a changed
policy publishes a new version, and the guard calls the new one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, Node

from aiflows_runtime.policies import GuardPolicy
from infra.stage import context_flag

MANAGED_GUARDRAIL_CONTEXT = "managed_guardrail"
GUARDRAIL_ID_CONTEXT = "bedrock_guardrail_id"  # a guardrail of your own (infra/stack.py)
GUARDRAIL_VERSION_CONTEXT = "bedrock_guardrail_version"

# Each PII kind of the guard's own detectors (aiflows_runtime/pii.py), as Bedrock's PII entity types.
BEDROCK_PII_TYPES: dict[str, tuple[str, ...]] = {
    "email": ("EMAIL",),
    "phone": ("PHONE",),
    "card_number": ("CREDIT_DEBIT_CARD_NUMBER",),
    "iban": ("INTERNATIONAL_BANK_ACCOUNT_NUMBER",),
    # the guard's national ids: US SSN and UK National Insurance number have a Bedrock type;
    # Spanish DNI/NIE and Dutch BSN have none, and stay the guard's own detectors
    "national_id": ("US_SOCIAL_SECURITY_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER"),
}
# Kinds the guard detects that Bedrock has no type for, documented as the guard's own only: the
# guardrail leaves them out rather than the synth refusing them. None today.
GUARD_ONLY: frozenset[str] = frozenset()
# The guard's PII outcome (guard.toml [outcomes] pii), as a Bedrock PII action. ``review`` and
# ``pass`` are the guard's own decisions: the guardrail only reports what it found (NONE).
BEDROCK_PII_ACTIONS: dict[str, str] = {
    "redact": "ANONYMIZE",
    "block": "BLOCK",
    "review": "NONE",
    "pass": "NONE",
}
# What ApplyGuardrail answers in place of a text it blocks (required by CloudFormation)
BLOCKED_INPUT_MESSAGE = "The aiflows guard withheld this document: Amazon Bedrock Guardrails intervened."
BLOCKED_OUTPUT_MESSAGE = "The aiflows guard withheld this text: Amazon Bedrock Guardrails intervened."


class GuardrailError(ValueError):
    """The deploy's guardrail context cannot be built: a message for ``cdk synth``, no traceback."""


def managed_guardrail_requested(node: Node) -> bool:
    """``-c managed_guardrail=true``; refused alongside a guardrail of the deploy's own."""
    managed = context_flag(MANAGED_GUARDRAIL_CONTEXT, node.try_get_context(MANAGED_GUARDRAIL_CONTEXT))
    own = [
        f"{key}={node.try_get_context(key)}"
        for key in (GUARDRAIL_ID_CONTEXT, GUARDRAIL_VERSION_CONTEXT)
        if node.try_get_context(key)
    ]
    if managed and own:
        raise GuardrailError(
            f"context {MANAGED_GUARDRAIL_CONTEXT}=true creates a guardrail for the guard, and "
            f"{' and '.join(own)} names one of your own: the guard calls one guardrail. Drop "
            f"-c {GUARDRAIL_ID_CONTEXT} (and -c {GUARDRAIL_VERSION_CONTEXT}) to have the stack create "
            f"it, or drop -c {MANAGED_GUARDRAIL_CONTEXT} to use yours"
        )
    return managed


def pii_entities(policy: GuardPolicy) -> list[dict[str, str]]:
    """Bedrock's PII entities for the kinds the guard's policy names, with its PII outcome's action."""
    unknown = sorted(set(policy.pii) - set(BEDROCK_PII_TYPES) - GUARD_ONLY)
    if unknown:
        raise GuardrailError(
            f"the guard's policy (guard.toml [pii], version {policy.version}) names "
            f"{', '.join(unknown)}, which has no Amazon Bedrock PII entity type in "
            "infra/constructs/guardrail.py: map it in BEDROCK_PII_TYPES to the Bedrock types that "
            "detect it, or, if Bedrock has none, add it to GUARD_ONLY (the guard's own detectors "
            "only) and say so in docs/guardrails.md"
        )
    action = BEDROCK_PII_ACTIONS[policy.outcomes.pii]
    types = [t for kind in sorted(policy.pii) if kind not in GUARD_ONLY for t in BEDROCK_PII_TYPES[kind]]
    return [{"type": t, "action": action} for t in dict.fromkeys(types)]


def guardrail_configuration(policy: GuardPolicy) -> dict[str, Any]:
    """The guardrail's policies, as CfnGuardrail takes them (and as the version's digest reads them)."""
    return {
        "content_policy_config": {
            "filtersConfig": [{"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"}]
        },
        "sensitive_information_policy_config": {"piiEntitiesConfig": pii_entities(policy)},
    }


class ManagedGuardrail(Construct):
    """A Bedrock guardrail built from the guard's policy, a version of it, and who may apply it."""

    def __init__(self, scope: Construct, construct_id: str, *, policy: GuardPolicy, name: str) -> None:
        super().__init__(scope, construct_id)
        configuration = guardrail_configuration(policy)
        content = configuration["content_policy_config"]
        sensitive = configuration["sensitive_information_policy_config"]
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Guardrail",
            name=name,
            description=f"The aiflows guard's second layer, from guard policy {policy.version}",
            blocked_input_messaging=BLOCKED_INPUT_MESSAGE,
            blocked_outputs_messaging=BLOCKED_OUTPUT_MESSAGE,
            content_policy_config=bedrock.CfnGuardrail.ContentPolicyConfigProperty(
                filters_config=[
                    bedrock.CfnGuardrail.ContentFilterConfigProperty(
                        type=f["type"], input_strength=f["inputStrength"], output_strength=f["outputStrength"]
                    )
                    for f in content["filtersConfig"]
                ]
            ),
            sensitive_information_policy_config=bedrock.CfnGuardrail.SensitiveInformationPolicyConfigProperty(
                pii_entities_config=[
                    bedrock.CfnGuardrail.PiiEntityConfigProperty(type=e["type"], action=e["action"])
                    for e in sensitive["piiEntitiesConfig"]
                ]
            ),
        )
        digest = hashlib.sha256(json.dumps(configuration, sort_keys=True).encode()).hexdigest()[:12]
        self.version = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=f"guard policy {policy.version}, configuration {digest}",
        )

    def attach(self, function: lambda_.Function, role: iam.IRole) -> None:
        """The function calls ApplyGuardrail on this version, and may apply this guardrail only.

        ApplyGuardrail authorizes on the guardrail's ARN, ``…:guardrail/<id>`` (Bedrock's
        "Permissions for invoking guardrails"), whatever the version: exactly ``GuardrailArn``.
        """
        function.add_environment("BEDROCK_GUARDRAIL_ID", self.guardrail.attr_guardrail_id)
        function.add_environment("BEDROCK_GUARDRAIL_VERSION", self.version.attr_version)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["bedrock:ApplyGuardrail"], resources=[self.guardrail.attr_guardrail_arn]
            )
        )
