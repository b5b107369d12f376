"""guard, pure domain code: find what makes a run risky, before the models and after them."""

from __future__ import annotations

import re

from aiflows_runtime.contracts import Finding, GuardInput, Severity
from aiflows_runtime.pii import find_pii
from aiflows_runtime.policies import GuardPolicy

SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


def worst(severities: list[Severity]) -> Severity:
    return max(severities, key=SEVERITY_ORDER.__getitem__, default="low")


def inspect_text(text: str, policy: GuardPolicy, where: str) -> list[Finding]:
    findings = []
    lowered = text.lower()
    for pattern in policy.injection_patterns:
        if re.search(pattern, lowered):
            findings.append(Finding(kind="prompt_injection", severity="high", detail=f"{where}: /{pattern}/"))
    for term in policy.deny_terms:
        if term in lowered:
            findings.append(Finding(kind="denied_term", severity="high", detail=f"{where}: {term!r}"))
    counts: dict[str, int] = {}
    for match in find_pii(text):
        counts[match.kind] = counts.get(match.kind, 0) + 1
    for kind, count in sorted(counts.items()):
        severity = policy.pii.get(kind, "medium")
        findings.append(Finding(kind=f"pii_{kind}", severity=severity, detail=f"{where}: {count} found"))  # type: ignore[arg-type]
    return findings


def assess(request: GuardInput, policy: GuardPolicy) -> tuple[Severity, list[Finding], bool]:
    """The run's risk, the findings behind it, and whether the flow may act without review."""
    if request.stage == "input":
        findings = inspect_text(request.document.body, policy, "document")
        return worst([f.severity for f in findings]), findings, False
    findings = []
    if request.input_risk and request.input_risk != "low":
        findings.append(
            Finding(kind="input_risk", severity=request.input_risk, detail="from the input guard")
        )
    confidence = request.classification.confidence if request.classification else 0.0
    if confidence < policy.auto_act_confidence:
        findings.append(
            Finding(
                kind="low_confidence",
                severity="medium",
                detail=f"classification confidence {confidence:.2f} < {policy.auto_act_confidence:.2f}",
            )
        )
    if request.extraction and request.extraction.unsupported:
        findings.append(
            Finding(
                kind="unsupported_fields",
                severity="medium",
                detail=f"evidence not in the document for {', '.join(request.extraction.unsupported)}",
            )
        )
    if request.summary:
        findings.extend(
            f
            for f in inspect_text(request.summary.summary, policy, "summary")
            if f.kind == "prompt_injection"
        )
    risk = worst([f.severity for f in findings])
    return risk, findings, risk == "low" and confidence >= policy.auto_act_confidence
