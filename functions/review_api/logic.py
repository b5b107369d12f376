"""review_api, pure domain code: what a reviewer may send, and what a reviewer sees."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# What one decision may carry. It is stored with its review (one DynamoDB item, at most 400 KB with
# the flow's details) and sent back to the flow (SendTaskSuccess takes at most 256 KB), so a
# reviewer's edits are a few field values, not documents: each bound is far above a person's edit.
EDITS = 50
FIELD_NAME_CHARS = 128
VALUE_CHARS = 2000
DECISION_JSON_BYTES = 16_384  # the reason and the edits as JSON, non-ASCII escaped as a store keeps it

FieldName = Annotated[str, StringConstraints(min_length=1, max_length=FIELD_NAME_CHARS)]
FieldValue = Annotated[str, StringConstraints(max_length=VALUE_CHARS)]


class DecisionBody(BaseModel):
    """The body of ``POST /reviews/{id}/decision``."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "revise"]
    reason: str = Field(default="", max_length=2000)
    edits: dict[FieldName, FieldValue] = Field(
        default_factory=dict, max_length=EDITS, description="a revision's new value of each field it edits"
    )

    @model_validator(mode="after")
    def _complete(self) -> DecisionBody:
        if self.decision == "reject" and not self.reason.strip():
            raise ValueError("a rejection needs a reason")
        if self.decision == "revise" and not self.edits:
            raise ValueError("a revision needs at least one edited field")
        if self.decision != "revise" and self.edits:
            raise ValueError("only a revision carries edits")
        size = len(json.dumps({"reason": self.reason, "edits": self.edits}))
        if size > DECISION_JSON_BYTES:
            raise ValueError(
                f"the reason and the edits take {size} bytes as JSON, more than the {DECISION_JSON_BYTES} "
                "a decision may carry: edit fewer fields, or shorten the values"
            )
        return self


# --- what a reviewer sees: the routes' response bodies, as the OpenAPI document declares them ------
class ReviewRow(BaseModel):
    """One row of the list of pending reviews (:func:`summary`), for any flow's review."""

    review_id: str
    status: str = Field(description="PENDING, DECIDED or EXPIRED")
    created_at: float = Field(description="when the flow asked, in seconds since the epoch")
    flow: str | None
    subject_id: str | None
    subject_kind: str | None
    tenant: str | None
    step: str | None = Field(description="Review; RemindReview or EscalateReview when nobody decided in time")
    escalation: bool
    summary: str = Field(description="the first 160 characters of what the reviewer reads first")
    confidence: float | None
    risk: str | None


class ReviewList(BaseModel):
    reviews: list[ReviewRow] = Field(description="pending reviews, oldest first")


class ReviewShown(ReviewRow):
    details: dict[str, Any] = Field(description="what the flow sent for the reviewer (never its task token)")
    decision: dict[str, Any] | None = Field(description="the decision, once there is one")


class Change(BaseModel):
    before: Any = Field(description="the value the flow extracted (null when it had none)")
    after: str = Field(description="the reviewer's")


class DecisionAnswer(BaseModel):
    review_id: str
    status: Literal["DECIDED"]
    decision: Literal["approve", "reject", "revise"]
    changes: dict[str, Change] = Field(description="each edited field, before and after")


class Problem(BaseModel):
    """A refusal (401, 404, 409, 410): what is wrong, in words."""

    statusCode: int  # the name powertools gives it in every error body
    message: str


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where: body, path or query, then the field")
    msg: str


class Refusal(BaseModel):
    """A 422: every problem of the request, each with where it is."""

    message: str = Field(description="every problem, each as <where>: <what is wrong>")
    errors: list[FieldProblem]


def summary(review_id: str, status: str, created_at: float, details: dict[str, Any]) -> dict[str, Any]:
    """One row of the list of pending reviews, for any flow's review."""
    subject = details.get("subject") or {}
    return {
        "review_id": review_id,
        "status": status,
        "created_at": created_at,
        "flow": details.get("flow"),
        "subject_id": subject.get("id"),
        "subject_kind": subject.get("kind"),
        "tenant": subject.get("tenant"),
        "step": details.get("step"),
        "escalation": details.get("escalation", False),
        "summary": (details.get("summary") or "")[:160],
        "confidence": details.get("confidence"),
        "risk": details.get("risk"),
    }


def reviewer_of(claims: dict[str, Any] | None) -> str | None:
    """Who is deciding: the authenticated identity's email, else its username or subject."""
    if not claims:
        return None
    for key in ("email", "cognito:username", "username", "sub"):
        value = claims.get(key)
        if value:
            return str(value)
    return None
