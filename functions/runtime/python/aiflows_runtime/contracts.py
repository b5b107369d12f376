"""The shared contracts: the types every capability may use, and the shared steps' contracts.

A capability's own input, output and answer models live in its folder
(``functions/<name>/contract.py``) and build on these: the document, the run's
context (``StepInput``), the model used, evidence spans and findings. The shared
steps (review, completion, failure) have generic contracts here, so they serve
any flow. The contract check (``infra/contract_check.py``) reads every flow's
Tasks against the contracts its capabilities' manifests name.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiflows_runtime.claimcheck import BUCKET_NAME, KEY_BYTES, has_refs, resolve_refs
from aiflows_runtime.clients import client
from aiflows_runtime.errors import InvalidInput, MalformedAnswer


class Contract(BaseModel):
    # defer_build: pydantic builds a contract's validator on its first use, so a handler's import
    # does not build the contracts it never parses (docs/capabilities.md#cold-start).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ObjectRef(Contract):
    """Where a claim-checked text lies in S3: a bucket and a key S3 can hold."""

    bucket: str = Field(min_length=3, max_length=63, pattern=BUCKET_NAME)
    key: str = Field(min_length=1, max_length=KEY_BYTES, description=f"at most {KEY_BYTES} bytes of UTF-8")
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("key")
    @classmethod
    def _key_fits_s3(cls, key: str) -> str:
        if len(key.encode("utf-8")) > KEY_BYTES:
            raise ValueError(f"an S3 key holds at most {KEY_BYTES} bytes of UTF-8, not {len(key.encode())}")
        return key


class Document(Contract):
    """The ``detail`` of a ``document.submitted`` event: the text inline, or a reference to it."""

    document_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    tenant: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=512)
    text: str | None = Field(default=None, min_length=1)
    text_ref: ObjectRef | None = None
    content_type: Literal["text/plain", "text/markdown"] = "text/plain"
    submitted_by: str | None = Field(
        default=None,
        max_length=256,
        description="who submitted it (a reviewer's sign-in name): never its reviewer",
    )

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


class Batch(Contract):
    """The ``detail`` of a ``batch.submitted`` event: many documents, listed in the claim bucket.

    The producer puts a JSON Lines file under ``batches/`` in the claim bucket, one
    :class:`Document` a line (its text inline, or a ``text_ref``), then sends the event.
    """

    batch_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    tenant: str = Field(min_length=1, max_length=64, description="every document must be this tenant's")
    manifest_key: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^batches/",
        description="the JSONL file's key in the claim bucket",
    )


# The most a flow's run may be given to spend: far above any flow's budget, and a number the run's
# ledger holds exactly (DynamoDB keeps 38 digits, below 1e126: a budget less a call's cost must fit).
MAX_BUDGET_USD = 1_000_000


class StepInput(Contract):
    """What every step of a run receives besides its own data."""

    correlation_id: str = Field(min_length=1, max_length=256)
    flow: str = Field(min_length=1, max_length=64, description="the flow's name: the weaving passes it")
    budget_usd: float | None = Field(default=None, gt=0, le=MAX_BUDGET_USD)


class ModelUse(Contract):
    """Which model and prompt produced a step's output, and what it cost."""

    model_id: str
    prompt_id: str
    cost_usd: float = Field(ge=0)
    cache_hit: bool = False


MODEL_INPUT_CHARS = 32768  # what a model reads of a document: its head, where labels and fields live


class Span(Contract):
    """Where a piece of evidence lies in a document's text."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str


class ExtractedField(Contract):
    """A value a capability read from a document, with the span it came from."""

    value: str
    evidence: Span


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


# --- the shared steps: review, completion, failure ----------------------------------
class Subject(Contract):
    """What a run is about (a document, a ticket...): the shared steps speak of it this way."""

    id: str = Field(min_length=1, max_length=256)
    kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    tenant: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=512)
    submitted_by: str | None = Field(
        default=None,
        max_length=256,
        description="who submitted it (a reviewer's sign-in name): never its reviewer",
    )


class SubjectRef(Contract):
    id: str
    kind: str


class ReviewRequest(StepInput):
    """What ``request_review`` receives through ``lambda:invoke.waitForTaskToken``, from any flow."""

    task_token: str = Field(min_length=1)
    subject: Subject
    step: str = "Review"
    reminder: bool = False
    escalation: bool = False
    summary: str = Field(default="", max_length=8000, description="what the reviewer reads first")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    risk: Severity = "medium"
    findings: list[Finding] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list, description="quotes of the subject behind the answer")
    fields: dict[str, ExtractedField] = Field(
        default_factory=dict, description="values a revision may edit, each with the span it came from"
    )
    document: Document | None = Field(
        default=None, description="the text the evidence points into; a large text stays a reference"
    )
    proposed_action: ProposedAction
    models: list[ModelUse] = Field(
        default_factory=list, description="the models and prompts behind what the reviewer sees"
    )
    details: dict[str, Any] = Field(default_factory=dict, description="anything else, shown as it is")

    @property
    def submitted_by(self) -> str | None:
        """Who submitted the run's subject, which its subject or its document names: they never review it."""
        return self.subject.submitted_by or (self.document.submitted_by if self.document else None)


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
    approved_by: list[str] = Field(
        default_factory=list, description="who approved, in order, when the action needed two (four eyes)"
    )


class FlowCompleted(Contract):
    """A run that did its work: the detail of a flow's completion event (``document.processed``...)."""

    correlation_id: str
    flow: str
    tenant: str
    subject: SubjectRef
    decision: Literal["auto", "approve", "revise"]
    reference: str | None = Field(description="what the run's action produced, e.g. the record written")
    details: dict[str, Any]


class FlowRejected(Contract):
    """A run a reviewer rejected: the detail of a flow's rejection event (``document.rejected``...)."""

    correlation_id: str
    flow: str
    tenant: str
    subject: SubjectRef
    review_id: str
    reviewer: str
    reason: str


class FlowFailed(Contract):
    """``flow.failed``: the failure path every flow gets woven in publishes it, whatever failed."""

    correlation_id: str
    flow: str
    step: str
    error: str
    cause: str | None
    tenant: str | None


class ReviewRequested(Contract):
    review_id: str
    correlation_id: str
    flow: str
    step: str
    subject: SubjectRef
    tenant: str
    reminder: bool
    escalation: bool
    confidence: float | None
    risk: Severity
    approvals_needed: int = Field(default=1, ge=1, description="2: four eyes, two different reviewers")


class ReviewDecided(Contract):
    """``review.decided``: a review's decision, once it is final (after its last needed approval)."""

    review_id: str
    correlation_id: str
    flow: str
    tenant: str
    subject: SubjectRef
    decision: Literal["approve", "reject", "revise"]
    reviewer: str
    approved_by: list[str]
    changed: list[str] = Field(
        description="the fields a revision edited (their values are in the audit trail)"
    )


FLOWS_SOURCE = "aiflows.flows"
REVIEWS_SOURCE = "aiflows.reviews"
FLOW_FAILED = "flow.failed"

# The events every flow may put on the bus, by detail-type: (source, contract of the detail).
# A flow's own completion and rejection events are named in its manifest with these contracts.
SHARED_EVENTS: dict[str, tuple[str, type[Contract]]] = {
    FLOW_FAILED: (FLOWS_SOURCE, FlowFailed),
    "review.requested": (REVIEWS_SOURCE, ReviewRequested),
    "review.decided": (REVIEWS_SOURCE, ReviewDecided),
}
OUTCOME_CONTRACTS: dict[str, type[Contract]] = {"completed": FlowCompleted, "rejected": FlowRejected}

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
