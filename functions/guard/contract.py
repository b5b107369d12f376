"""The guard capability's contracts: one step, two stages (the input, then the flow's outputs).

The output stage reads what the flow's capabilities produced in shared shapes only
(a confidence, fields with their evidence spans, a summary, the proposed action), so
any flow can guard its outputs without the guard knowing its capabilities.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiflows_runtime.contracts import (
    Contract,
    Document,
    ExtractedField,
    Finding,
    Outcome,
    ProposedAction,
    Severity,
    StepInput,
    SummaryDigest,
)


class GuardInput(StepInput):
    stage: Literal["input", "output"]
    document: Document
    input_risk: Severity | None = None
    input_findings: list[Finding] = Field(default_factory=list, description="the input guard's, as evidence")
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="the flow's confidence in its main answer"
    )
    fields: dict[str, ExtractedField] = Field(default_factory=dict, description="values read from the text")
    unsupported: list[str] = Field(
        default_factory=list, description="fields a model gave with evidence not found in the text"
    )
    summary: SummaryDigest | None = None
    proposed_action: ProposedAction | None = None


class GuardOutput(Contract):
    stage: Literal["input", "output"]
    outcome: Outcome = Field(description="the strongest outcome of the findings (block never returns)")
    risk: Severity
    findings: list[Finding]
    auto_act: bool
    policy_version: str = Field(description="every policy file the verdict read, with its version")
    document: Document | None = Field(
        default=None, description="input stage: the document the flow goes on with (redacted when it had PII)"
    )
    redacted: bool = False
