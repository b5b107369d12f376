"""guard: the guardrails at the flow's edges, before any model sees the text and before the flow acts.

The verdict's outcome steers the flow: ``block`` fails the step with ``GuardBlocked``
(the flow ends in its ``Blocked`` state and announces why), ``review`` sends the run
to a person with the findings as evidence, ``redact`` hands the flow the document
with its PII replaced, ``pass`` lets it go on. Every verdict lands in the run's ledger
and trace with the versions of the policies that made it.

The verdict is idempotent on the step's input: ApplyGuardrail and Comprehend are paid
for, and the ledger and the redacted copy written, once per input, however often
the step is retried.
"""

from typing import Any

from aiflows_runtime.capability import idempotent_step, register_context
from aiflows_runtime.claimcheck import store_text
from aiflows_runtime.clients import client
from aiflows_runtime.contracts import Document, parse_input
from aiflows_runtime.errors import GuardBlocked
from aiflows_runtime.guardrails.services import apply_guardrail, detect_pii_entities
from aiflows_runtime.observability import capability_handler, record_guard
from aiflows_runtime.policies import action_policy, content_policy, guard_policy, injection_policy
from aiflows_runtime.settings import settings
from aiflows_runtime.state import DynamoDBLedger, GuardRecord

from . import logic
from .contract import GuardInput, GuardOutput

CAPABILITY = "guard"
BLOCKED = "blocked"  # what the stored verdict of a blocked run holds: why


def policies(flow: str) -> logic.Policies:
    return logic.Policies(guard_policy(), injection_policy(), content_policy(), action_policy(flow))


def guard_input(request: GuardInput, rules: logic.Policies) -> tuple[logic.Verdict, Document]:
    config = settings()
    document = request.document
    text = document.text or ""
    guardrail = service_pii = None
    if config.bedrock_guardrail_id:
        guardrail = apply_guardrail(
            client("bedrock-runtime"),
            config.bedrock_guardrail_id,
            config.bedrock_guardrail_version,
            text,
            "INPUT",
        )
    if config.comprehend_pii_language:
        service_pii = detect_pii_entities(client("comprehend"), text, config.comprehend_pii_language)
    verdict = logic.assess_input(text, document.content_type, rules, service_pii, guardrail)
    if verdict.redacted_text is None:
        # a referenced text stays in S3: the flow carries the reference, not the text
        return verdict, document.model_copy(update={"text": None}) if document.text_ref else document
    if document.text_ref is None:
        return verdict, document.model_copy(update={"text": verdict.redacted_text})
    if not config.claim_bucket:
        raise RuntimeError("guard needs CLAIM_BUCKET to store a redacted copy of a referenced text")
    ref = store_text(
        client("s3"), config.claim_bucket, f"redacted/{request.correlation_id}.txt", verdict.redacted_text
    )
    return verdict, Document.model_validate({**document.model_dump(), "text": None, "text_ref": ref})


@idempotent_step(CAPABILITY)
def guard(request: GuardInput) -> dict[str, Any]:
    """The verdict, paid for once: a retried invocation of the same input gets the stored verdict."""
    rules = policies(request.flow)
    document = None
    if request.stage == "input":
        verdict, document = guard_input(request, rules)
    else:
        verdict = logic.assess_output(request, rules)
    kinds = [f.kind for f in verdict.findings]
    DynamoDBLedger(settings().state_table_name, client=client("dynamodb")).record_guard(
        request.correlation_id, GuardRecord(request.stage, verdict.outcome, rules.version, tuple(kinds))
    )
    record_guard(request.flow, request.stage, verdict.outcome, rules.version, kinds)
    if verdict.outcome == "block":
        return {BLOCKED: f"the {request.stage} guard blocked the run ({rules.version}): {verdict.reason()}"}
    return GuardOutput(
        stage=request.stage,
        outcome=verdict.outcome,
        risk=verdict.risk,
        findings=verdict.findings,
        auto_act=verdict.auto_act,
        policy_version=rules.version,
        document=document,
        redacted=verdict.redacted_text is not None,
    ).model_dump(mode="json", exclude_none=True)


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    verdict = guard(request=parse_input(event, GuardInput))
    if BLOCKED in verdict:
        raise GuardBlocked(verdict[BLOCKED])
    return verdict
