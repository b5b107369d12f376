"""guard, pure domain code: what makes a run risky, and what each policy makes of it.

At the input (before any model sees the text): size, type and encoding; prompt
injection (normalised, the rules, the heuristics); the content policy's deny and allow
lists; PII, which is redacted. At the output (before the flow acts): the input's
findings as evidence, confidence, evidence-less fields, injections echoed by a model,
and the action the flow proposes, against the action policy.

Each finding carries the outcome its policy gives it; the verdict is the strongest:
block > review > redact > pass. Findings name rules, kinds and counts, never the text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from aiflows_runtime.actions import ActionNotAllowed, plan
from aiflows_runtime.contracts import Finding, Outcome, Severity
from aiflows_runtime.guardrails.content import denied, without_allowed
from aiflows_runtime.guardrails.injection import assess
from aiflows_runtime.guardrails.inputs import input_problems
from aiflows_runtime.guardrails.normalize import normalize_with_disguises
from aiflows_runtime.guardrails.services import GuardrailVerdict, ServicePii
from aiflows_runtime.pii import PiiMatch, find_pii, redact_matches
from aiflows_runtime.policies import (
    OUTCOME_ORDER,
    ActionPolicy,
    ContentPolicy,
    GuardPolicy,
    InjectionPolicy,
)

from .contract import GuardInput

SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
SEVERITY_OF: dict[str, Severity] = {"block": "high", "review": "high", "redact": "medium", "pass": "low"}


@dataclass(frozen=True)
class Policies:
    guard: GuardPolicy
    injection: InjectionPolicy
    content: ContentPolicy
    actions: ActionPolicy

    @property
    def version(self) -> str:
        return (
            f"guard {self.guard.version}; injection {self.injection.version}; "
            f"content {self.content.version}; actions {self.actions.version}"
        )


@dataclass
class Verdict:
    findings: list[Finding]
    outcome: Outcome = "pass"
    risk: Severity = "low"
    auto_act: bool = False
    redacted_text: str | None = None  # set when PII was redacted

    @classmethod
    def of(cls, findings: list[Finding], **extra: object) -> Verdict:
        outcome = max((f.outcome for f in findings), key=OUTCOME_ORDER.__getitem__, default="pass")
        return cls(findings=findings, outcome=outcome, risk=worst(findings), **extra)  # type: ignore[arg-type]

    def reason(self) -> str:
        """Why a blocked run was blocked: the blocking findings, in words a person can act on."""
        return "; ".join(f"{f.kind}: {f.detail}" for f in self.findings if f.outcome == "block")


def worst(findings: list[Finding]) -> Severity:
    return max((f.severity for f in findings), key=SEVERITY_ORDER.__getitem__, default="low")


def inspect_text(text: str, where: str, policies: Policies, outcome: Outcome) -> list[Finding]:
    """Prompt injection and denied content in a text.

    The allow list only spares quoted, known-good text from the deny entries that ask
    for review; the injection rules and the entries that block read the whole text, so
    an allowed phrase cannot hide what follows it.
    """
    normalized, disguises = normalize_with_disguises(text)
    findings = []
    verdict = assess(normalized, disguises, policies.injection)
    normalized = normalized.replace("\n", " ")  # a deny entry reads across line breaks, as a person does
    filtered, _allowed = without_allowed(normalized, policies.content)
    if verdict.detected:
        found = ", ".join(verdict.rules + verdict.signals)
        findings.append(
            Finding(kind="prompt_injection", severity="high", detail=f"{where}: {found}", outcome=outcome)
        )
    still_denied = {m.rule.id for m in denied(filtered, policies.content)}
    for match in denied(normalized, policies.content):
        rule = match.rule
        if rule.outcome != "block" and rule.id not in still_denied:
            continue  # the allow list accounts for it
        findings.append(
            Finding(
                kind=f"content_{rule.id}",
                severity=SEVERITY_OF[rule.outcome],
                detail=f"{where}: {rule.reason}",
                outcome=rule.outcome,
            )
        )
    return findings


def guardrail_finding(guardrail: GuardrailVerdict, guard: GuardPolicy, *, own_pii: bool) -> Finding:
    """An intervention of Amazon Bedrock Guardrails, as a finding.

    A guardrail that only anonymized PII did what the guard's PII policy asks (the managed
    guardrail's PII entities are built from it): when the guard redacts and its own detectors
    found PII too, the finding takes the PII outcome. Anything else (an attack, a block, PII
    that only the guardrail found, which the guard's redaction would miss) takes the outcome
    of ``bedrock_guardrail``.
    """
    acted = [p for p in guardrail.policies if not p.endswith(":NONE")]
    masked_only = bool(acted) and all(
        p.startswith("sensitiveInformationPolicy:") and p.endswith(":ANONYMIZED") for p in acted
    )
    if masked_only and own_pii and guard.outcomes.pii == "redact":
        return Finding(
            kind="bedrock_guardrail_pii",
            severity="medium",
            detail="Amazon Bedrock Guardrails anonymized: " + ", ".join(acted),
            outcome=guard.outcomes.pii,
        )
    return Finding(
        kind="bedrock_guardrail",
        severity="high",
        detail="Amazon Bedrock Guardrails intervened: " + ", ".join(guardrail.policies),
        outcome=guard.outcomes.bedrock_guardrail,
    )


def assess_input(
    text: str,
    content_type: str,
    policies: Policies,
    service_pii: list[ServicePii] | None = None,
    guardrail: GuardrailVerdict | None = None,
) -> Verdict:
    """The input guard: everything before any model sees the text."""
    guard = policies.guard
    findings = [
        Finding(kind="invalid_input", severity="high", detail=problem, outcome=guard.outcomes.invalid_input)
        for problem in input_problems(text, content_type, guard.input)
    ]
    if findings and guard.outcomes.invalid_input == "block":
        return Verdict.of(findings)  # nothing else is worth reading in text that is not text
    findings += inspect_text(text, "document", policies, guard.outcomes.prompt_injection)
    matches = find_pii(text) + [PiiMatch(p.kind, p.start, p.end) for p in service_pii or []]
    if guardrail is not None and guardrail.intervened:
        findings.append(guardrail_finding(guardrail, guard, own_pii=bool(matches)))
    for kind, count in sorted(Counter(m.kind for m in matches).items()):
        severity = guard.pii.get(kind, "medium")
        findings.append(
            Finding(
                kind=f"pii_{kind}",
                severity=severity,
                detail=f"document: {count} found",
                outcome=guard.outcomes.pii,
            )
        )
    redacted = redact_matches(text, matches) if matches and guard.outcomes.pii == "redact" else None
    return Verdict.of(findings, redacted_text=redacted)


SHOWN_NAMES, NAME_CHARS = 10, 64  # a finding names what it is about, within bounds


def named(names: list[str]) -> str:
    """Field names for a finding's detail: the first ten, each cut at 64 characters, and how many more."""
    shown = ", ".join(name[:NAME_CHARS] for name in names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def assess_output(request: GuardInput, policies: Policies) -> Verdict:
    """The output guard: may the flow act on what the models made of the document?"""
    guard = policies.guard
    outcomes = guard.outcomes
    # the input guard's findings that wanted a person stay, as evidence for the reviewer
    findings = [f for f in request.input_findings if f.outcome in ("review", "block")]
    if request.input_risk == "high" and not request.input_findings:
        # a caller that passes the input guard's risk only: high risk wants a person
        findings.append(
            Finding(kind="input_risk", severity="high", detail="from the input guard", outcome="review")
        )
    confidence = request.confidence or 0.0
    if confidence < guard.auto_act_confidence:
        findings.append(
            Finding(
                kind="low_confidence",
                severity="medium",
                detail=f"confidence {confidence:.2f} < {guard.auto_act_confidence:.2f}",
                outcome=outcomes.low_confidence,
            )
        )
    if request.unsupported:
        findings.append(
            Finding(
                kind="unsupported_fields",
                severity="medium",
                detail=f"evidence not in the document for {named(request.unsupported)}",
                outcome=outcomes.unsupported_fields,
            )
        )
    outputs = []
    if request.summary:
        outputs.append(("summary", request.summary.summary))
    outputs += [(f"field {name}", str(f.value)) for name, f in request.fields.items()]
    for where, text in outputs:
        findings += [
            f.model_copy(update={"kind": "injection_in_output"})
            for f in inspect_text(text, where, policies, outcomes.injection_in_output)
            if f.kind == "prompt_injection"
        ]
    if request.proposed_action is not None:
        try:
            plan(request.proposed_action.action, "check", request.proposed_action.payload, policies.actions)
        except ActionNotAllowed as refused:
            findings.append(
                Finding(
                    kind="action_not_allowed",
                    severity="high",
                    detail=str(refused),
                    outcome=outcomes.action_not_allowed,
                )
            )
    verdict = Verdict.of(findings)
    verdict.auto_act = verdict.outcome in ("pass", "redact") and confidence >= guard.auto_act_confidence
    return verdict
