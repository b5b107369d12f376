"""Pydantic contracts at every boundary: events on the bus, each step's input and output,
and the answer each prompt asks a model for.

``STEP_CONTRACTS`` names the input and output contract of every capability; the
contract check (``infra/contract_check.py``) reads the flows in ``statemachines/``
against it, so a Task that passes a field its function does not take, misses one
it needs, or reads one its function does not return fails before anything deploys.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aiflows_runtime.claimcheck import has_refs, resolve_refs
from aiflows_runtime.clients import client
from aiflows_runtime.errors import InvalidInput, MalformedAnswer

EVENT_SOURCE = "aiflows.documents"
DOCUMENT_SUBMITTED = "document.submitted"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectRef(Contract):
    """Where a claim-checked text lies in S3."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Document(Contract):
    """The ``detail`` of a ``document.submitted`` event: the text inline, or a reference to it."""

    document_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    tenant: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=512)
    text: str | None = Field(default=None, min_length=1)
    text_ref: ObjectRef | None = None
    content_type: Literal["text/plain", "text/markdown"] = "text/plain"

    @model_validator(mode="after")
    def _has_text(self) -> Document:
        if self.text is None and self.text_ref is None:
            raise ValueError("a document needs its text, or a text_ref to it")
        return self

    @property
    def body(self) -> str:
        """The text, resolved from its reference before the step's input was parsed."""
        if self.text is None:
            raise InvalidInput(f"document {self.document_id}: its text_ref was not resolved")
        return self.text


class StepInput(Contract):
    """What every step of a run receives besides its own data."""

    correlation_id: str = Field(min_length=1, max_length=256)
    flow: str = Field(default="document_intake", min_length=1, max_length=64)
    budget_usd: float | None = Field(default=None, gt=0)


class ModelUse(Contract):
    """Which model and prompt produced a step's output, and what it cost."""

    model_id: str
    prompt_id: str
    cost_usd: float = Field(ge=0)
    cache_hit: bool = False


# --- classify ---------------------------------------------------------------
LABELS = ("invoice", "contract", "complaint", "resume", "other")


MODEL_INPUT_CHARS = 32768  # what a model reads of a document: its head, where labels and fields live


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


# --- extract ----------------------------------------------------------------
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


class Span(Contract):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str


class ExtractedField(Contract):
    value: str
    evidence: Span


class ExtractOutput(Contract):
    fields: dict[str, ExtractedField]
    missing: list[str]
    unsupported: list[str] = Field(
        default_factory=list, description="fields the model gave with evidence not found in the document"
    )
    model: ModelUse


# --- summarize --------------------------------------------------------------
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


# --- retrieve ---------------------------------------------------------------
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


# --- act --------------------------------------------------------------------
class ActInput(StepInput):
    action: str = Field(min_length=1)
    action_id: str = Field(min_length=1, max_length=256)
    payload: dict[str, Any]


class ActOutput(Contract):
    action: str
    action_id: str
    status: Literal["done"]
    reference: str


# --- validate -----------------------------------------------------------------
class ValidateInput(StepInput):
    document: Document
    execution: str = Field(min_length=1, description="the execution that claims the run")


class ValidateOutput(Contract):
    tenant: str
    document: Document = Field(description="inline text only when under the claim-check limit")
    size_bytes: int = Field(ge=0)
    long_running: bool


# --- guard ------------------------------------------------------------------
Severity = Literal["low", "medium", "high"]


Outcome = Literal["block", "review", "redact", "pass"]


class Finding(Contract):
    kind: str
    severity: Severity
    detail: str = Field(description="never the matched text itself: no PII leaves the guard")
    outcome: Outcome = Field(default="pass", description="what the policy makes of it")


class SummaryDigest(Contract):
    """A summary as the flow carries it, from the summarize step or the long-running worker."""

    summary: str
    words: int = Field(ge=0)
    truncated: bool


class ProposedAction(Contract):
    """What the flow would do next, as ``act`` would be asked to do it."""

    action: str
    payload: dict[str, Any] = Field(default_factory=dict)


class GuardInput(StepInput):
    stage: Literal["input", "output"]
    document: Document
    input_risk: Severity | None = None
    input_findings: list[Finding] = Field(default_factory=list, description="the input guard's, as evidence")
    classification: ClassifyOutput | None = None
    extraction: ExtractOutput | None = None
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


# --- the long-running worker (SQS, task token) ----------------------------------
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


# --- human review --------------------------------------------------------------
class ReviewRequest(StepInput):
    """What ``request_review`` receives through ``lambda:invoke.waitForTaskToken``."""

    task_token: str = Field(min_length=1)
    document_id: str
    tenant: str
    document: Document = Field(description="shown beside the evidence; a large text stays a reference")
    step: str = "Review"
    reminder: bool = False
    escalation: bool = False
    classification: ClassifyOutput
    extraction: ExtractOutput | None = None
    summary: SummaryDigest | None = None
    passages: list[Passage] = Field(default_factory=list)
    assessment: GuardOutput
    proposed_action: dict[str, Any]


class ReviewTicket(Contract):
    review_id: str
    status: Literal["PENDING"]


class ReviewDecision(Contract):
    """What the reviewer's answer carries back into the flow (SendTaskSuccess output)."""

    review_id: str
    decision: Literal["approve", "reject", "revise"]
    reviewer: str
    reason: str = ""
    edits: dict[str, Any] = Field(default_factory=dict)


# --- events the flows put on the bus ------------------------------------------------
class DocumentProcessed(Contract):
    correlation_id: str
    flow: str
    document_id: str
    tenant: str
    label: str
    confidence: float
    decision: Literal["auto", "approve", "revise"]
    record: str


class DocumentRejected(Contract):
    correlation_id: str
    flow: str
    document_id: str
    tenant: str
    review_id: str
    reviewer: str
    reason: str


class DocumentFailed(Contract):
    correlation_id: str
    flow: str
    step: str
    error: str
    cause: str | None


class ReviewRequested(Contract):
    review_id: str
    correlation_id: str
    flow: str
    step: str
    document_id: str
    tenant: str
    reminder: bool
    escalation: bool
    confidence: float
    risk: Severity


# detail-type -> (source, contract of the detail); docs/events.md documents each one.
BUS_EVENTS: dict[str, tuple[str, type[Contract]]] = {
    DOCUMENT_SUBMITTED: (EVENT_SOURCE, Document),
    "document.processed": ("aiflows.flows", DocumentProcessed),
    "document.rejected": ("aiflows.flows", DocumentRejected),
    "document.failed": ("aiflows.flows", DocumentFailed),
    "review.requested": ("aiflows.reviews", ReviewRequested),
}


STEP_CONTRACTS: dict[str, tuple[type[Contract], type[Contract]]] = {
    "classify": (ClassifyInput, ClassifyOutput),
    "extract": (ExtractInput, ExtractOutput),
    "summarize": (SummarizeInput, SummarizeOutput),
    "retrieve": (RetrieveInput, RetrieveOutput),
    "act": (ActInput, ActOutput),
    "validate": (ValidateInput, ValidateOutput),
    "guard": (GuardInput, GuardOutput),
    "request_review": (ReviewRequest, ReviewTicket),
}

M = TypeVar("M", bound=BaseModel)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )


def parse_input(event: Any, model: type[M]) -> M:
    """Parse a step's input with powertools' parser; a breach becomes ``InvalidInput``.

    Claim-checked texts (``text_ref``) are fetched first. The message lists each
    failing field, so the execution history shows what to fix.
    """
    if has_refs(event):
        event = resolve_refs(event, client("s3"))
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        raise InvalidInput(f"{model.__name__} rejected the input: {_problems(exc)}") from None


def parse_answer(text: str, model: type[M]) -> M:
    """Read a model's JSON answer into its contract; anything else is ``MalformedAnswer``."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise MalformedAnswer(f"no JSON object in the answer: {text[:120]!r}")
    try:
        return model.model_validate(json.loads(text[start : end + 1]))
    except (ValueError, ValidationError) as exc:
        raise MalformedAnswer(f"{model.__name__}: {exc}") from None
