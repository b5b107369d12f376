"""The extract capability's contracts: its input, its output and the answer its prompt asks for."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import (
    MODEL_INPUT_CHARS,
    Contract,
    Document,
    ExtractedField,
    ModelUse,
    StepInput,
)

DEFAULT_FIELDS = ("invoice_number", "date", "total", "currency", "customer", "email")


class ExtractInput(StepInput):
    document: Document
    fields: tuple[str, ...] = DEFAULT_FIELDS
    max_chars: int = Field(default=MODEL_INPUT_CHARS, ge=1000, le=400_000)


class AnsweredField(Contract):
    value: str
    evidence: str


class ExtractAnswer(Contract):
    fields: dict[str, AnsweredField]


class ExtractOutput(Contract):
    fields: dict[str, ExtractedField]
    missing: list[str]
    unsupported: list[str] = Field(
        default_factory=list, description="fields the model gave with evidence not found in the document"
    )
    model: ModelUse
