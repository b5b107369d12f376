"""The run's state, as small interfaces: what the gateway, the handlers and the CLI rely on.

Each interface has one DynamoDB adapter (:mod:`.dynamodb`) and one in-memory fake
(:mod:`.memory`) that keeps the same rules, so the gateway and every ``logic.py``
can be unit-tested without the local cloud. The same contract tests run against
both (``tests/unit/test_state.py``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from aiflows_runtime.contracts import ReviewDecision

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
PENDING, DECIDED, EXPIRED = "PENDING", "DECIDED", "EXPIRED"


# --- circuit breaker ---------------------------------------------------------
@dataclass
class BreakerState:
    state: str = CLOSED
    failures: int = 0
    window_start: float = 0.0
    opened_at: float = 0.0
    probe_until: float = 0.0
    version: int = 0
    last_error: str = ""  # what the last failure was: the runbook's first clue


class BreakerStore(Protocol):
    """One breaker state per model, changed only by a writer that saw the latest version."""

    def read(self, model: str) -> BreakerState: ...

    def write(self, model: str, state: BreakerState, seen_version: int) -> bool:
        """Store ``state`` as version ``seen_version + 1``; False when another writer came first."""
        ...


# --- response cache ------------------------------------------------------------
@dataclass(frozen=True)
class CachedAnswer:
    text: str
    stop_reason: str


class AnswerCache(Protocol):
    """Answers by key, each with a TTL.

    A model call reads its breaker and its cached answer together (:meth:`get_with_breaker`), and
    writes its answer with its ledger line (:meth:`put_settling`): on one table, one request each.
    """

    def get(self, key: str) -> CachedAnswer | None:
        """The answer stored under ``key``, or None when there is none or it has expired."""
        ...

    def put(self, key: str, answer: CachedAnswer) -> None: ...

    def get_with_breaker(
        self, key: str, model: str, breakers: BreakerStore
    ) -> tuple[CachedAnswer | None, BreakerState]:
        """:meth:`get` and ``breakers.read(model)``, in one read where both live in one table."""
        ...

    def put_settling(
        self, key: str, answer: CachedAnswer, ledger: Ledger, hold: Hold, entry: LedgerEntry
    ) -> None:
        """:meth:`put` and ``ledger.settle(hold, entry)``, in one transaction where both live in one table."""
        ...


# --- run ledger --------------------------------------------------------------
@dataclass(frozen=True)
class LedgerEntry:
    """One model call of a run: what it cost, and what produced it."""

    capability: str
    model_id: str
    prompt_id: str
    policy_version: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost_usd: float
    cache_hit: bool
    outcome: str  # ok | repaired (after one malformed answer) | malformed
    flow: str
    tenant: str


@dataclass(frozen=True)
class GuardRecord:
    stage: str  # input | output
    outcome: str  # block | review | redact | pass
    policy_version: str
    findings: tuple[str, ...]  # the kinds found, never the text


@dataclass(frozen=True)
class RunTotal:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    committed_usd: float = 0.0  # what was spent, plus what calls in flight may still cost


@dataclass(frozen=True)
class Hold:
    """Budget set aside for one model call in flight: settled with its real cost, or released."""

    correlation_id: str
    amount_usd: float


class OverBudget(Exception):
    """Setting the call's worst case aside would take the run past its budget."""

    def __init__(self, committed_usd: float) -> None:
        super().__init__(f"${committed_usd:.6f} is already spent or set aside")
        self.committed_usd = committed_usd


class Ledger(Protocol):
    """A run's model calls and guard verdicts, and its total, which always equals the sum of its calls.

    The budget is kept by holds: before a call, :meth:`hold` sets its worst case aside
    in one conditional update, refused when spent + set aside + this would pass the
    budget, so two branches of a run that call at once cannot pass it together. The
    call is then :meth:`settle`-d (its entry and the total move in one transaction)
    or :meth:`release`-d. A hold whose function died stays set aside: the run can
    spend less than its budget, never more.

    The DynamoDB adapter may write a settle later than it is called, never out of order:
    inside an idempotent step it joins the transaction that completes the step's record,
    unless any other request of the state adapters comes first (:mod:`.dynamodb`). Until it
    is written, the call's hold stays set aside in the total.
    """

    def hold(self, correlation_id: str, amount_usd: float, budget_usd: float | None) -> Hold:
        """Set ``amount_usd`` aside; :class:`OverBudget` when it would pass ``budget_usd``."""
        ...

    def settle(self, hold: Hold, entry: LedgerEntry) -> None:
        """The call's entry, and its real cost in place of its hold, in one transaction."""
        ...

    def release(self, hold: Hold) -> None:
        """The call was not made or not charged (throttled, timed out): give its hold back."""
        ...

    def record(self, correlation_id: str, entry: LedgerEntry) -> None:
        """An entry with no hold (a cached answer costs nothing): a settle of a hold of 0."""
        ...

    def record_guard(self, correlation_id: str, record: GuardRecord) -> None: ...

    def guard_records(self, correlation_id: str) -> list[GuardRecord]: ...

    def total(self, correlation_id: str) -> RunTotal: ...

    def entries(self, correlation_id: str) -> list[LedgerEntry]: ...


# --- reviews -----------------------------------------------------------------
class ReviewNotFound(Exception):
    pass


class AlreadyDecided(Exception):
    """The review was decided (or expired) before: nothing changed."""


class AlreadyApproved(Exception):
    """This reviewer's approval is already on the review: the next one must be another reviewer's."""


@dataclass(frozen=True)
class Review:
    review_id: str
    status: str
    created_at: float
    details: dict[str, Any]  # what the reviewer sees: evidence, scores, proposed action
    decision: dict[str, Any] | None
    tenant: str = ""
    correlation_id: str = ""
    approvals: tuple[dict[str, Any], ...] = ()  # the approvals so far of a review that needs more (four eyes)

    @property
    def role(self) -> str | None:
        """The role its flow's manifest requires of whoever decides it (``[review] role``), if any."""
        role = self.details.get("role")
        return str(role) if role else None

    @property
    def approvals_needed(self) -> int:
        """1, or 2 when its proposed action needs two reviewers (the flow's actions.toml ``[four_eyes]``)."""
        return int(self.details.get("approvals_needed") or 1)

    @property
    def approved_by(self) -> list[str]:
        return [str(a["reviewer"]) for a in self.approvals]

    @property
    def submitted_by(self) -> str | None:
        """Who submitted the run's subject (request_review keeps it): they never decide its review."""
        who = self.details.get("submitted_by")
        return str(who) if who else None


_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: ids are read aloud and typed
REVIEW_ID_PATTERN = rf"^rv-[{_ALPHABET}]{{8}}$"  # what new_review_id makes: anything else names no review


def new_review_id() -> str:
    return "rv-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def owner_of(details: dict[str, Any]) -> tuple[str, str]:
    """The tenant and the run that a review's details name (a ReviewRequest's fields)."""
    tenant = str((details.get("subject") or {}).get("tenant") or "")
    correlation_id = str(details.get("correlation_id") or "")
    if not tenant or not correlation_id:
        raise ValueError("a review's details name its run (correlation_id) and its tenant (subject.tenant)")
    return tenant, correlation_id


class Reviews(Protocol):
    """Reviews waiting for a person, found by id, by run, or by tenant.

    A run has at most one pending review: creating one expires the run's earlier
    one (a reminder or an escalation replaces it). Pending reviews are listed and
    counted tenant by tenant, never by reading every review.
    """

    def create(self, task_token: str, details: dict[str, Any]) -> str:
        """A new pending review of the run and tenant its details name; its id.

        The run's earlier pending review, if any, expires in the same transaction.
        """
        ...

    def get(self, review_id: str) -> Review: ...

    def tenants(self) -> frozenset[str]:
        """The tenants known to the reviews: every tenant that ever had one (a review names its tenant)."""
        ...

    def of_run(self, correlation_id: str) -> Review | None:
        """The run's latest review, whatever its status."""
        ...

    def pending(self, tenants: frozenset[str] | None = None) -> list[Review]:
        """Pending reviews of these tenants (every tenant when None), oldest first."""
        ...

    def count_pending(self, tenants: frozenset[str] | None = None) -> int: ...

    def decide(self, decision: ReviewDecision) -> str:
        """PENDING → DECIDED, once; the review's task token, for the caller to answer the flow.

        :class:`AlreadyDecided` when it is no longer pending, :class:`ReviewNotFound` when it never was.
        """
        ...

    def reopen(self, decision: ReviewDecision) -> None:
        """Undo this decision (its answer could not reach the flow), so that it can be given again."""
        ...

    def approve(self, approval: ReviewDecision, restart: bool = False) -> Review:
        """Add one reviewer's approval (or revision) to a review that stays PENDING for more; the review.

        ``restart``: the approvals so far are replaced by this one (a revision changed what they
        approved). :class:`AlreadyApproved` when this reviewer's approval is already there,
        :class:`AlreadyDecided` when the review is no longer pending.
        """
        ...

    def expire(self, review_id: str) -> bool:
        """PENDING or DECIDED → EXPIRED: the flow stopped waiting (a decision, if any, is kept).

        False when it was already expired or never existed.
        """
        ...


# --- the audit trail ----------------------------------------------------------------
AUDIT_RETENTION_DAYS = 400  # the default: over a year, so that a yearly look back at decisions finds them


@dataclass(frozen=True)
class AuditRecord:
    """One thing that happened to a run's review or action: who, when, what, and what it changed."""

    correlation_id: str
    at: float
    actor: str  # a reviewer's sign-in name, or flow:<flow> for what the flow did itself
    what: str  # review.requested, review.approved, review.decided, review.expired, action.performed...
    flow: str
    tenant: str
    review_id: str = ""
    details: dict[str, Any] | None = None  # the decision, the reason, the action and its reference...
    changes: dict[str, dict[str, Any]] | None = None  # each edited field: {"before": ..., "after": ...}


class AuditTrail(Protocol):
    """Append-only: a record is written once and never changed; the trail of a run, oldest first."""

    def append(self, record: AuditRecord) -> None: ...

    def of_run(self, correlation_id: str) -> list[AuditRecord]: ...


# --- checkpoints of long work --------------------------------------------------
class Checkpoints(Protocol):
    """The finished parts of a long work item, so that a redelivered item resumes where it stopped."""

    def done(self, work_id: str) -> dict[int, dict[str, Any]]:
        """The parts finished so far, by number."""
        ...

    def save(self, work_id: str, number: int, result: dict[str, Any]) -> None: ...
