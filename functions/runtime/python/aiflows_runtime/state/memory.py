"""In-memory fakes of the run's state, with the same rules as the DynamoDB adapters.

For unit tests of the gateway and of every ``logic.py``: no table, no local cloud.
Each fake is safe to share between threads (a test's concurrent branches), and the
contract tests in ``tests/unit/test_state.py`` hold each to its adapter's behaviour.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from aiflows_runtime.contracts import ReviewDecision

from .items import exact
from .ports import (
    DECIDED,
    EXPIRED,
    PENDING,
    AlreadyApproved,
    AlreadyDecided,
    AuditRecord,
    BreakerState,
    BreakerStore,
    CachedAnswer,
    GuardRecord,
    Hold,
    Ledger,
    LedgerEntry,
    OverBudget,
    Review,
    ReviewNotFound,
    RunTotal,
    new_review_id,
    owner_of,
)

Clock = Callable[[], float]


class MemoryBreakerStore:
    def __init__(self) -> None:
        self._states: dict[str, BreakerState] = {}
        self._lock = threading.Lock()

    def read(self, model: str) -> BreakerState:
        with self._lock:
            return copy.copy(self._states.get(model, BreakerState()))

    def write(self, model: str, state: BreakerState, seen_version: int) -> bool:
        with self._lock:
            if self._states.get(model, BreakerState()).version != seen_version:
                return False
            self._states[model] = replace(state, version=seen_version + 1)
            return True


class MemoryCache:
    def __init__(self, ttl_seconds: int, clock: Clock = time.time) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._answers: dict[str, tuple[CachedAnswer, int]] = {}

    def get(self, key: str) -> CachedAnswer | None:
        found = self._answers.get(key)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._answers[key] = (answer, int(self._clock() + self._ttl))

    def get_with_breaker(
        self, key: str, model: str, breakers: BreakerStore
    ) -> tuple[CachedAnswer | None, BreakerState]:
        return self.get(key), breakers.read(model)

    def put_settling(
        self, key: str, answer: CachedAnswer, ledger: Ledger, hold: Hold, entry: LedgerEntry
    ) -> None:
        ledger.settle(hold, entry)
        self.put(key, answer)


class MemoryLedger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[LedgerEntry]] = {}
        self._guards: dict[str, list[GuardRecord]] = {}
        self._totals: dict[str, dict[str, Decimal]] = {}

    def _total(self, correlation_id: str) -> dict[str, Decimal]:
        return self._totals.setdefault(
            correlation_id,
            {k: Decimal(0) for k in ("calls", "input_tokens", "output_tokens", "cost_usd", "committed_usd")},
        )

    def hold(self, correlation_id: str, amount_usd: float, budget_usd: float | None) -> Hold:
        if budget_usd is None or amount_usd <= 0:
            return Hold(correlation_id, 0.0 if budget_usd is None else amount_usd)
        with self._lock:
            total = self._total(correlation_id)
            if amount_usd > budget_usd or total["committed_usd"] > exact(budget_usd) - exact(amount_usd):
                raise OverBudget(float(total["committed_usd"]))
            total["committed_usd"] += exact(amount_usd)
        return Hold(correlation_id, amount_usd)

    def settle(self, hold: Hold, entry: LedgerEntry) -> None:
        with self._lock:
            self._entries.setdefault(hold.correlation_id, []).append(entry)
            total = self._total(hold.correlation_id)
            total["calls"] += 1
            total["input_tokens"] += entry.input_tokens
            total["output_tokens"] += entry.output_tokens
            total["cost_usd"] += exact(entry.cost_usd)
            total["committed_usd"] += exact(entry.cost_usd) - exact(hold.amount_usd)

    def release(self, hold: Hold) -> None:
        with self._lock:
            self._total(hold.correlation_id)["committed_usd"] -= exact(hold.amount_usd)

    def record(self, correlation_id: str, entry: LedgerEntry) -> None:
        self.settle(Hold(correlation_id, 0.0), entry)

    def record_guard(self, correlation_id: str, record: GuardRecord) -> None:
        with self._lock:
            self._guards.setdefault(correlation_id, []).append(record)

    def guard_records(self, correlation_id: str) -> list[GuardRecord]:
        return list(self._guards.get(correlation_id, []))

    def total(self, correlation_id: str) -> RunTotal:
        with self._lock:
            if correlation_id not in self._totals:
                return RunTotal()
            t = self._totals[correlation_id]
            return RunTotal(
                calls=int(t["calls"]),
                input_tokens=int(t["input_tokens"]),
                output_tokens=int(t["output_tokens"]),
                cost_usd=float(t["cost_usd"]),
                committed_usd=float(t["committed_usd"]),
            )

    def entries(self, correlation_id: str) -> list[LedgerEntry]:
        return list(self._entries.get(correlation_id, []))


class MemoryReviews:
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._reviews: dict[str, Review] = {}
        self._tokens: dict[str, str] = {}
        self._of_run: dict[str, str] = {}
        self._tenants: set[str] = set()

    def create(self, task_token: str, details: dict[str, Any]) -> str:
        tenant, correlation_id = owner_of(details)
        with self._lock:
            review_id = new_review_id()
            while review_id in self._reviews:
                review_id = new_review_id()
            earlier = self._reviews.get(self._of_run.get(correlation_id, ""))
            if earlier is not None and earlier.status == PENDING:
                self._reviews[earlier.review_id] = replace(earlier, status=EXPIRED)
            self._reviews[review_id] = Review(
                review_id, PENDING, self._clock(), copy.deepcopy(details), None, tenant, correlation_id
            )
            self._tokens[review_id] = task_token
            self._of_run[correlation_id] = review_id
            self._tenants.add(tenant)
        return review_id

    def get(self, review_id: str) -> Review:
        with self._lock:
            if review_id not in self._reviews:
                raise ReviewNotFound(review_id)
            return self._reviews[review_id]

    def tenants(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._tenants)

    def of_run(self, correlation_id: str) -> Review | None:
        with self._lock:
            return self._reviews.get(self._of_run.get(correlation_id, ""))

    def pending(self, tenants: frozenset[str] | None = None) -> list[Review]:
        with self._lock:
            found = [
                r
                for r in self._reviews.values()
                if r.status == PENDING and (tenants is None or r.tenant in tenants)
            ]
        return sorted(found, key=lambda r: (r.created_at, r.review_id))

    def count_pending(self, tenants: frozenset[str] | None = None) -> int:
        return len(self.pending(tenants))

    def decide(self, decision: ReviewDecision) -> str:
        with self._lock:
            review = self._pending(decision, final=decision.decision != "reject")
            self._reviews[review.review_id] = replace(
                review, status=DECIDED, decision=decision.model_dump(mode="json")
            )
            return self._tokens[review.review_id]

    def _pending(self, decision: ReviewDecision, final: bool = True) -> Review:
        review = self._reviews.get(decision.review_id)
        if review is None:
            raise ReviewNotFound(decision.review_id)
        if review.status != PENDING:
            raise AlreadyDecided(decision.review_id)
        if final and decision.reviewer in review.approved_by:
            raise AlreadyApproved(decision.review_id)
        return review

    def approve(self, approval: ReviewDecision, restart: bool = False) -> Review:
        with self._lock:
            review = self._pending(approval)
            entry = {
                "reviewer": approval.reviewer,
                "at": self._clock(),
                "decision": approval.decision,
                "reason": approval.reason,
                "edits": copy.deepcopy(approval.edits),
            }
            approvals = (entry,) if restart else (*review.approvals, entry)
            self._reviews[review.review_id] = replace(review, approvals=approvals)
            return self._reviews[review.review_id]

    def reopen(self, decision: ReviewDecision) -> None:
        with self._lock:
            review = self._reviews[decision.review_id]
            if review.status != DECIDED or review.decision != decision.model_dump(mode="json"):
                raise AlreadyDecided(decision.review_id)
            self._reviews[review.review_id] = replace(review, status=PENDING, decision=None)

    def expire(self, review_id: str) -> bool:
        with self._lock:
            review = self._reviews.get(review_id)
            if review is None or review.status == EXPIRED:
                return False
            self._reviews[review_id] = replace(review, status=EXPIRED)
            return True


class MemoryAuditTrail:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[AuditRecord] = []

    def append(self, record: AuditRecord) -> None:
        with self._lock:
            self._records.append(copy.deepcopy(record))

    def of_run(self, correlation_id: str) -> list[AuditRecord]:
        with self._lock:
            found = [r for r in self._records if r.correlation_id == correlation_id]
        return sorted(found, key=lambda r: r.at)


class MemoryCheckpoints:
    def __init__(self) -> None:
        self._done: dict[str, dict[int, dict[str, Any]]] = {}

    def done(self, work_id: str) -> dict[int, dict[str, Any]]:
        return {n: copy.deepcopy(r) for n, r in self._done.get(work_id, {}).items()}

    def save(self, work_id: str, number: int, result: dict[str, Any]) -> None:
        self._done.setdefault(work_id, {})[number] = copy.deepcopy(result)
