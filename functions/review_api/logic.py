"""review_api, pure domain code: who is asking, what they may see and decide, what they may send.

Who may review what (docs/reviews.md#who-may-review-what) is read from the identity's
Cognito groups: ``tenant:<id>`` for each tenant it reviews, ``aiflows-reviewers`` or
``aiflows-admins`` for its role. Every route asks :func:`scope_of` first; a review of a
tenant out of scope is :class:`ReviewNotFound`, exactly as one that does not exist.

Four eyes (docs/reviews.md#four-eyes): a review whose proposed action needs two approvals
stays pending after the first; :func:`next_step` says whether a decision is the final one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.reviews import ADMIN, REVIEWER, REVIEWERS_GROUP, ROLE_GROUPS, ROLES, TENANT_GROUP, Role
from aiflows_runtime.state.ports import AlreadyApproved, Review, ReviewNotFound, Reviews

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
    role: str | None = Field(description="the role deciding needs (its flow's [review] role); null: reviewer")
    approvals_needed: int = Field(description="2: four eyes, two different reviewers must approve")
    approved_by: list[str] = Field(description="who approved so far, while more approvals are needed")
    four_eyes: str = Field(description="why it needs two reviewers ('' when it does not)")


class SignedIn(BaseModel):
    """Who is asking, and what they may see: the console shows it."""

    reviewer: str
    role: Role | None = Field(description="reviewer or admin; null: may read, decides nothing")
    every_tenant: bool = Field(description="an administrator: every tenant is in scope")
    tenants: list[str] = Field(description="the tenants of the identity's tenant:<id> groups")


class ReviewList(BaseModel):
    reviews: list[ReviewRow] = Field(description="pending reviews of the tenants in scope, oldest first")
    signed_in: SignedIn


class ReviewShown(ReviewRow):
    details: dict[str, Any] = Field(description="what the flow sent for the reviewer (never its task token)")
    decision: dict[str, Any] | None = Field(description="the decision, once there is one")


class Change(BaseModel):
    before: Any = Field(description="the value the flow extracted (null when it had none)")
    after: str = Field(description="the reviewer's")


class DecisionAnswer(BaseModel):
    review_id: str
    status: Literal["DECIDED", "PENDING"] = Field(
        description="PENDING: an approval was recorded and another reviewer's is still needed (four eyes)"
    )
    decision: Literal["approve", "reject", "revise"]
    changes: dict[str, Change] = Field(description="each edited field, before and after")
    approved_by: list[str] = Field(description="who approved, in order")
    approvals_needed: int


class Problem(BaseModel):
    """A refusal (401, 403, 404, 409, 410): what is wrong, in words."""

    statusCode: int  # the name powertools gives it in every error body
    message: str


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where: body, path or query, then the field")
    msg: str


class Refusal(BaseModel):
    """A 422: every problem of the request, each with where it is."""

    message: str = Field(description="every problem, each as <where>: <what is wrong>")
    errors: list[FieldProblem]


def summary(review: Review) -> dict[str, Any]:
    """One row of the list of pending reviews, for any flow's review."""
    details = review.details
    subject = details.get("subject") or {}
    return {
        "review_id": review.review_id,
        "status": review.status,
        "created_at": review.created_at,
        "approvals_needed": review.approvals_needed,
        "approved_by": review.approved_by,
        "four_eyes": details.get("four_eyes") or "",
        "flow": details.get("flow"),
        "subject_id": subject.get("id"),
        "subject_kind": subject.get("kind"),
        "tenant": subject.get("tenant"),
        "step": details.get("step"),
        "escalation": details.get("escalation", False),
        "summary": (details.get("summary") or "")[:160],
        "confidence": details.get("confidence"),
        "risk": details.get("risk"),
        "role": details.get("role") or None,
    }


# --- who is asking, and what they may see and decide ------------------------------------------------
@dataclass(frozen=True)
class Reviewer:
    """An authenticated identity: its name, its role, and the tenants it reviews."""

    name: str
    role: Role | None
    tenants: frozenset[str]

    @property
    def every_tenant(self) -> bool:
        return self.role == ADMIN

    @property
    def scope(self) -> frozenset[str] | None:
        """The tenants whose reviews it sees; None: every tenant."""
        return None if self.every_tenant else self.tenants

    def may_decide(self, required: str | None) -> bool:
        """Whether its role holds ``required`` (none: reviewer); each role holds the ones before it."""
        if self.role is None:
            return False
        rank: dict[str, int] = {role: n for n, role in enumerate(ROLES)}
        return rank[self.role] >= rank.get(required or REVIEWER, rank[ADMIN])  # a role unheard of: admins

    def signed_in(self) -> SignedIn:
        return SignedIn(
            reviewer=self.name, role=self.role, every_tenant=self.every_tenant, tenants=sorted(self.tenants)
        )


def groups_of(claims: Mapping[str, Any]) -> list[str]:
    """The identity's Cognito groups (``cognito:groups``): a list, or as API Gateway passes a list
    claim to the function, one string, ``a,b`` (REST API) or ``[a b]`` (HTTP API)."""
    raw = claims.get("cognito:groups")
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        found: Iterable[Any] = raw
    else:
        text = str(raw).strip()
        found = text[1:-1].split() if text.startswith("[") and text.endswith("]") else text.split(",")
    return [group for group in (str(g).strip() for g in found) if group]


def reviewer_of(claims: Mapping[str, Any] | None) -> Reviewer | None:
    """Who is asking: the identity's email (else its username or subject), role and tenants; None when no
    identity reached the function."""
    if not claims:
        return None
    names = (str(claims[key]) for key in ("email", "cognito:username", "username", "sub") if claims.get(key))
    name = next(names, None)
    if name is None:
        return None
    groups = groups_of(claims)
    held = [ROLE_GROUPS[g] for g in groups if g in ROLE_GROUPS]
    role = max(held, key=ROLES.index) if held else None
    tenants = frozenset(g.removeprefix(TENANT_GROUP) for g in groups if g.startswith(TENANT_GROUP))
    return Reviewer(name=name, role=role, tenants=tenants)


class UnknownTenants(Exception):
    """The identity names tenants the reviews do not know: a group to correct, not a scope to guess."""

    def __init__(self, tenants: list[str]) -> None:
        named = ", ".join(repr(t) for t in tenants)
        which = f"tenants {named}, which have" if len(tenants) > 1 else f"tenant {named}, which has"
        super().__init__(
            f"your sign-in names {which} had no review here: a {TENANT_GROUP}<id> group must name a "
            "tenant whose runs ask for reviews; ask an administrator to correct your groups"
        )
        self.tenants = tenants


class RoleNeeded(Exception):
    """The identity's role does not hold the one the review's flow requires."""

    def __init__(self, review_id: str, required: str, held: str | None) -> None:
        having = f"yours is {held}" if held else f"you have none ({REVIEWERS_GROUP} gives {REVIEWER})"
        super().__init__(f"deciding review {review_id} needs the {required} role; {having}")


def scope_of(reviews: Reviews, reviewer: Reviewer) -> frozenset[str] | None:
    """The tenants in the reviewer's scope (None: every tenant), each one the reviews know."""
    if reviewer.scope is None:
        return None
    unknown = sorted(reviewer.scope - reviews.tenants()) if reviewer.scope else []
    if unknown:
        raise UnknownTenants(unknown)
    return reviewer.scope


def pending_for(reviews: Reviews, reviewer: Reviewer) -> list[Review]:
    """The pending reviews of the tenants in scope, read from their partitions only."""
    return reviews.pending(scope_of(reviews, reviewer))


def review_for(reviews: Reviews, reviewer: Reviewer, review_id: str) -> Review:
    """The review, when its tenant is in scope; :class:`ReviewNotFound` otherwise, as for no review."""
    scope = scope_of(reviews, reviewer)
    review = reviews.get(review_id)
    if scope is not None and review.tenant not in scope:
        raise ReviewNotFound(review_id)
    return review


class OwnRun(Exception):
    """The reviewer submitted the run under review: someone else must decide it."""

    def __init__(self, review_id: str) -> None:
        super().__init__(f"you submitted the run of review {review_id}: another reviewer must decide it")


def decidable_by(reviews: Reviews, reviewer: Reviewer, review_id: str) -> Review:
    """The review, when the reviewer may decide it: in scope (else not found), of a role they hold, and
    of a run they did not submit."""
    review = review_for(reviews, reviewer, review_id)
    if not reviewer.may_decide(review.role):
        raise RoleNeeded(review_id, review.role or REVIEWER, reviewer.role)
    if review.submitted_by is not None and review.submitted_by == reviewer.name:
        raise OwnRun(review_id)
    return review


@dataclass(frozen=True)
class NextStep:
    """What a decision does: ``final`` answers the flow; otherwise the approval is kept, and the review
    waits for another reviewer's (``restart``: a revision replaces the approvals of what it changed)."""

    final: ReviewDecision | None
    restart: bool = False


def next_step(review: Review, decision: ReviewDecision) -> NextStep:
    """Four eyes: a rejection ends any review; an approval or a revision is final once the review has
    the approvals it needs, each from a different reviewer, and a revision needs an approval of its
    values by someone other than who revised them."""
    if decision.decision == "reject":
        return NextStep(decision.model_copy(update={"approved_by": review.approved_by}))
    if decision.reviewer in review.approved_by:
        raise AlreadyApproved(review.review_id)
    if review.approvals_needed <= 1:
        return NextStep(decision.model_copy(update={"approved_by": [decision.reviewer]}))
    if decision.decision == "revise":
        return NextStep(None, restart=True)  # a second pair of eyes must see the revised values
    if len(review.approvals) + 1 < review.approvals_needed:
        return NextStep(None)
    revised = next((a for a in reversed(review.approvals) if a.get("edits")), None)
    reasons = [str(a.get("reason") or "") for a in review.approvals] + [decision.reason]
    return NextStep(
        decision.model_copy(
            update={
                "decision": "revise" if revised else "approve",
                "edits": dict(revised["edits"]) if revised else {},
                "reason": "; ".join(r for r in reasons if r),
                "approved_by": [*review.approved_by, decision.reviewer],
            }
        )
    )


def feedback_for(lines: Iterable[dict[str, Any]], scope: frozenset[str] | None) -> Iterator[dict[str, Any]]:
    """The feedback lines of the tenants in scope (None: every tenant)."""
    return (line for line in lines if scope is None or line.get("tenant") in scope)
