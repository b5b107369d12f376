"""The worker's contracts: the work item a flow sends over SQS, its result, the answer per chunk."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import Contract, Document, StepInput


class WorkItem(StepInput):
    """The body of a message on the work queue, sent by ``sqs:sendMessage.waitForTaskToken``."""

    task_token: str = Field(min_length=1)
    document: Document
    max_words: int = Field(default=120, ge=5, le=1000)


class WorkResult(Contract):
    summary: str
    words: int
    truncated: bool
    chunks: int = Field(ge=1)
    cost_usd: float = Field(ge=0)


class ChunkAnswer(Contract):
    summary: str
