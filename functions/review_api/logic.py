"""review_api, pure domain code: what a reviewer may send, and what a reviewer sees."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DecisionBody(BaseModel):
    """The body of ``POST /reviews/{id}/decision``."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "revise"]
    reason: str = Field(default="", max_length=2000)
    edits: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> DecisionBody:
        if self.decision == "reject" and not self.reason.strip():
            raise ValueError("a rejection needs a reason")
        if self.decision == "revise" and not self.edits:
            raise ValueError("a revision needs at least one edited field")
        if self.decision != "revise" and self.edits:
            raise ValueError("only a revision carries edits")
        return self


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
