"""The classify capability's contracts: its input, its output and the answer its prompt asks for."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import MODEL_INPUT_CHARS, Contract, Document, ModelUse, StepInput

LABELS = ("invoice", "contract", "complaint", "resume", "other")


class ClassifyInput(StepInput):
    document: Document
    labels: tuple[str, ...] = LABELS
    max_chars: int = Field(default=MODEL_INPUT_CHARS, ge=1000, le=400_000)


class ClassifyAnswer(Contract):
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)


class ClassifyOutput(Contract):
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str]
    model: ModelUse
