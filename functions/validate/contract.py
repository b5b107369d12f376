"""The validate capability's contracts."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import Contract, Document, StepInput


class ValidateInput(StepInput):
    document: Document


class ValidateOutput(Contract):
    tenant: str
    document: Document = Field(description="inline text only when under the claim-check limit")
    size_bytes: int = Field(ge=0)
    long_running: bool
