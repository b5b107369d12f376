"""The summarize capability's contracts: its input, its output and the answer its prompt asks for."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import Contract, Document, ModelUse, StepInput


class SummarizeInput(StepInput):
    document: Document
    max_words: int = Field(default=60, ge=5, le=500)


class SummarizeAnswer(Contract):
    summary: str


class SummarizeOutput(Contract):
    summary: str
    words: int
    truncated: bool
    model: ModelUse
