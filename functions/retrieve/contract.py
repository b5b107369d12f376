"""The retrieve capability's contracts."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import Contract, StepInput


class RetrieveInput(StepInput):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=3, ge=1, le=20)


class Passage(Contract):
    doc_id: str
    text: str
    score: float


class RetrieveOutput(Contract):
    passages: list[Passage]
    corpus_size: int
