"""The triage capability's contracts: a support ticket's priority and category, with a confidence."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiflows_runtime.contracts import MODEL_INPUT_CHARS, Contract, Document, ModelUse, StepInput

Priority = Literal["low", "normal", "high"]
Category = Literal["billing", "outage", "account", "bug", "question", "other"]


class TriageInput(StepInput):
    document: Document = Field(description="the ticket: its subject as the title, its body as the text")
    max_chars: int = Field(default=MODEL_INPUT_CHARS, ge=1000, le=400_000)


class TriageAnswer(Contract):
    """What the prompt asks the model for (prompts/v1.toml)."""

    priority: Priority
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(min_length=1, max_length=500)
    evidence: list[str] = Field(default_factory=list, max_length=10)


class TriageOutput(Contract):
    priority: Priority
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str
    evidence: list[str] = Field(description="quotes of the ticket, each found in it")
    model: ModelUse
