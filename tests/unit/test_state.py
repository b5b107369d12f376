"""The run's state: each in-memory fake and its DynamoDB adapter keep the same rules.

Every test runs twice, on the fake and on the adapter (over moto in this process,
no server); what one does, the other must do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aiflows.testing import state_table_like_the_stacks
from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.state import (
    DECIDED,
    EXPIRED,
    PENDING,
    AlreadyApproved,
    AlreadyDecided,
    AuditRecord,
    BreakerState,
    CachedAnswer,
    DynamoDBAuditTrail,
    DynamoDBBreakerStore,
    DynamoDBCache,
    DynamoDBCheckpoints,
    DynamoDBLedger,
    DynamoDBReviews,
    GuardRecord,
    LedgerEntry,
    OverBudget,
    ReviewNotFound,
    keys,
)
from aiflows_runtime.state.items import from_item, to_item
from aiflows_runtime.state.memory import (
    MemoryAuditTrail,
    MemoryBreakerStore,
    MemoryCache,
    MemoryCheckpoints,
    MemoryLedger,
    MemoryReviews,
)
from aiflows_runtime.state.transactions import TRANSACTION_ATTEMPTS
from tests.unit.conftest import Clock


@dataclass
class State:
    kind: str
    breakers: Any
    cache: Any
    ledger: Any
    reviews: Any
    checkpoints: Any
    audit: Any
    clock: Clock


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> Iterator[State]:
    clock = Clock()
    if request.param == "memory":
        yield State(
            "memory",
            MemoryBreakerStore(),
            MemoryCache(60, clock=clock),
            MemoryLedger(),
            MemoryReviews(clock=clock),
            MemoryCheckpoints(),
            MemoryAuditTrail(),
            clock,
        )
        return
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = state_table_like_the_stacks(ddb, "state")
        yield State(
            "dynamodb",
            DynamoDBBreakerStore(table, client=ddb),
            DynamoDBCache(table, 60, client=ddb, clock=clock),
            DynamoDBLedger(table, client=ddb, clock=clock),
            DynamoDBReviews(table, client=ddb, clock=clock),
            DynamoDBCheckpoints(table, client=ddb, clock=clock),
            DynamoDBAuditTrail(table, client=ddb, clock=clock, retention_days=30),
            clock,
        )


def entry(cost: float, tokens: int = 10, capability: str = "classify") -> LedgerEntry:
    return LedgerEntry(
        capability, "m", f"{capability}/v1", "p1", tokens, tokens, 12.5, cost, False, "ok", "f", "acme"
    )


# --- items --------------------------------------------------------------------
def test_items_go_through_boto3s_serializer_and_back_exactly() -> None:
    values = {"pk": "run#1", "cost": 0.1, "calls": 3, "hit": True, "kinds": ["pii"], "none": None}
    item = to_item(values)
    assert item["cost"] == {"N": "0.1"} and item["calls"] == {"N": "3"} and "none" not in item
    assert from_item(item) == {"pk": "run#1", "cost": 0.1, "calls": 3, "hit": True, "kinds": ["pii"]}


# --- breaker store --------------------------------------------------------------
def test_a_breaker_write_on_a_stale_version_is_refused(state: State) -> None:
    assert state.breakers.read("m") == BreakerState()
    assert state.breakers.write("m", BreakerState(failures=1), seen_version=0)
    assert not state.breakers.write(
        "m", BreakerState(failures=9), seen_version=0
    )  # another writer came first
    assert state.breakers.read("m").failures == 1
    assert state.breakers.read("m").version == 1


# --- cache -------------------------------------------------------------------
def test_a_cached_answer_expires_with_its_ttl(state: State) -> None:
    state.cache.put("k", CachedAnswer("text", "end_turn"))
    assert state.cache.get("k") == CachedAnswer("text", "end_turn")
    state.clock.now += 61
    assert state.cache.get("k") is None
    assert state.cache.get("other") is None


def test_the_cached_answer_is_read_with_the_models_breaker(state: State) -> None:
    # Given a breaker with a failure and a cached answer
    assert state.breakers.write("m", BreakerState(failures=1, last_error="throttled"), seen_version=0)
    state.cache.put("k", CachedAnswer("text", "end_turn"))
    # Then both come back from one read, as each store's own read gives them
    assert state.cache.get_with_breaker("k", "m", state.breakers) == (
        CachedAnswer("text", "end_turn"),
        state.breakers.read("m"),
    )
    # And what is not there is a miss and a closed breaker; an expired answer is a miss
    assert state.cache.get_with_breaker("other", "n", state.breakers) == (None, BreakerState())
    state.clock.now += 61
    assert state.cache.get_with_breaker("k", "m", state.breakers)[0] is None


def test_an_answer_put_while_settling_is_stored_with_the_calls_line_and_total(state: State) -> None:
    hold = state.ledger.hold("run-p", 0.5, budget_usd=1.0)
    state.cache.put_settling("k", CachedAnswer("text", "end_turn"), state.ledger, hold, entry(0.1))
    assert state.cache.get("k") == CachedAnswer("text", "end_turn")
    assert state.ledger.entries("run-p") == [entry(0.1)]
    total = state.ledger.total("run-p")
    assert (total.calls, total.cost_usd, total.committed_usd) == (1, 0.1, pytest.approx(0.1))


def test_on_one_table_the_read_is_one_batch_get_and_the_write_one_transaction() -> None:
    """BatchGetItem reads up to 100 items, strongly consistent when ConsistentRead is set, and
    hands back what it could not read as UnprocessedKeys (Amazon DynamoDB API Reference,
    "BatchGetItem"); TransactWriteItems groups up to 100 actions on distinct items, all or none
    ("TransactWriteItems"; "Amazon DynamoDB Transactions: How it works")."""
    from bench.requests import RequestCounter

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = state_table_like_the_stacks(ddb, "one-request")
        breakers, cache = DynamoDBBreakerStore(table, client=ddb), DynamoDBCache(table, 60, client=ddb)
        ledger = DynamoDBLedger(table, client=ddb)
        counter = RequestCounter().attach(ddb.meta.events)
        cache.get_with_breaker("k", "m", breakers)
        assert counter.of("dynamodb") == ["BatchGetItem"]
        counter.take()
        cache.put_settling(
            "k", CachedAnswer("t", "end_turn"), ledger, ledger.hold("r", 0.0, None), entry(0.1)
        )
        assert counter.of("dynamodb") == ["TransactWriteItems"]
        # a breaker kept elsewhere is read on its own
        counter.take()
        assert cache.get_with_breaker("k", "m", MemoryBreakerStore()) == (
            CachedAnswer("t", "end_turn"),
            BreakerState(),
        )
        assert counter.of("dynamodb") == ["GetItem"]


# --- ledger --------------------------------------------------------------------
def test_the_total_is_the_sum_of_the_entries(state: State) -> None:
    for cost in (0.001, 0.002, 0.0005):
        hold = state.ledger.hold("run-1", 0.01, budget_usd=1.0)
        state.ledger.settle(hold, entry(cost))
    state.ledger.record("run-1", entry(0.0))  # a cache hit: no hold
    total, entries = state.ledger.total("run-1"), state.ledger.entries("run-1")
    assert total.calls == len(entries) == 4
    assert total.cost_usd == pytest.approx(sum(e.cost_usd for e in entries)) == pytest.approx(0.0035)
    assert total.input_tokens == sum(e.input_tokens for e in entries)
    # nothing is set aside once every call has settled
    assert total.committed_usd == pytest.approx(total.cost_usd)
    assert entries[0] == entry(0.001)


def test_a_hold_past_the_budget_is_refused_and_a_released_one_is_given_back(state: State) -> None:
    first = state.ledger.hold("run-b", 0.6, budget_usd=1.0)
    with pytest.raises(OverBudget) as refused:
        state.ledger.hold("run-b", 0.6, budget_usd=1.0)
    assert refused.value.committed_usd == pytest.approx(0.6)
    state.ledger.release(first)
    second = state.ledger.hold("run-b", 0.6, budget_usd=1.0)
    state.ledger.settle(second, entry(0.2))
    assert state.ledger.total("run-b").committed_usd == pytest.approx(0.2)
    with pytest.raises(OverBudget):
        state.ledger.hold("run-b", 1.5, budget_usd=1.0)  # more than the whole budget


class AlwaysConflicting:
    """A DynamoDB client whose every transaction meets another one on its items (DynamoDB's
    TransactionConflict cancellation); every other call goes to the real client."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.transactions = 0

    def transact_write_items(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        self.transactions += 1
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}] * 2
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
        raise ClientError({**error, "CancellationReasons": reasons}, "TransactWriteItems")  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_paid_call_whose_transaction_keeps_conflicting_keeps_its_line_and_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a ledger whose every transaction conflicts, past the adapter's retries
    monkeypatch.setattr("aiflows_runtime.state.transactions.time.sleep", lambda _seconds: None)
    with mock_aws():
        real = boto3.client("dynamodb", region_name="us-east-1")
        conflicting = AlwaysConflicting(real)
        ledger = DynamoDBLedger(state_table_like_the_stacks(real, "conflicts"), client=conflicting)
        hold = ledger.hold("run-c", 0.05, budget_usd=1.0)
        # When the paid call settles
        ledger.settle(hold, entry(0.02))
        # Then it was tried as a transaction each time, then written as its line and its total
        assert conflicting.transactions == TRANSACTION_ATTEMPTS
        total = ledger.total("run-c")
        assert [e.cost_usd for e in ledger.entries("run-c")] == [0.02]
        assert (total.calls, total.cost_usd, total.committed_usd) == (
            1,
            pytest.approx(0.02),
            pytest.approx(0.02),
        )


def test_concurrent_branches_cannot_pass_the_budget_together() -> None:
    # Given ten branches of one run, each wanting 0.3 of a budget of 1.0 at the same moment (the
    # fake; the adapter's races run in the local cloud, where each write is atomic as on AWS:
    # tests/localcloud/test_dynamodb.py)
    state = State("memory", None, None, MemoryLedger(), None, None, None, Clock())
    granted: list[Any] = []
    refused: list[OverBudget] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def branch() -> None:
        barrier.wait()
        try:
            hold = state.ledger.hold("run-p", 0.3, budget_usd=1.0)
        except OverBudget as exc:
            with lock:
                refused.append(exc)
            return
        with lock:
            granted.append(hold)

    threads = [threading.Thread(target=branch) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly three fit, and all that was set aside is within the budget
    assert (len(granted), len(refused)) == (3, 7)
    assert state.ledger.total("run-p").committed_usd == pytest.approx(0.9)


def test_guard_records_are_kept_per_run(state: State) -> None:
    state.ledger.record_guard("run-g", GuardRecord("input", "redact", "g1", ("email",)))
    state.clock.now += 1
    state.ledger.record_guard("run-g", GuardRecord("output", "pass", "g1", ()))
    assert state.ledger.guard_records("run-g") == [
        GuardRecord("input", "redact", "g1", ("email",)),
        GuardRecord("output", "pass", "g1", ()),
    ]
    assert state.ledger.guard_records("other") == []


# --- reviews -----------------------------------------------------------------
def details(run: str, tenant: str = "acme") -> dict[str, Any]:
    return {
        "correlation_id": run,
        "flow": "f",
        "subject": {"id": "d-1", "kind": "document", "tenant": tenant},
    }


def decision(review_id: str, verdict: str = "approve", reviewer: str = "ana", **more: Any) -> ReviewDecision:
    return ReviewDecision(review_id=review_id, decision=verdict, reviewer=reviewer, **more)  # type: ignore[arg-type]


def test_a_review_is_found_by_its_id_and_by_its_run(state: State) -> None:
    review_id = state.reviews.create("token-1", details("run-1"))
    review = state.reviews.get(review_id)
    assert (review.status, review.tenant, review.correlation_id) == (PENDING, "acme", "run-1")
    assert review.details == details("run-1")
    assert "token" not in repr(review)  # the task token stays server side
    assert state.reviews.of_run("run-1") == review
    assert state.reviews.of_run("run-2") is None
    with pytest.raises(ReviewNotFound):
        state.reviews.get("rv-none")


def test_a_reminder_replaces_the_runs_earlier_review(state: State) -> None:
    first = state.reviews.create("token-1", details("run-1"))
    state.clock.now += 1
    second = state.reviews.create("token-2", details("run-1"))
    assert state.reviews.get(first).status == EXPIRED
    assert state.reviews.of_run("run-1").review_id == second  # type: ignore[union-attr]
    assert [r.review_id for r in state.reviews.pending()] == [second]
    assert state.reviews.count_pending() == 1


def test_pending_reviews_are_listed_and_counted_per_tenant(state: State) -> None:
    made = []
    for n, tenant in enumerate(["acme", "globex", "acme"]):
        state.clock.now += 1
        made.append(state.reviews.create(f"token-{n}", details(f"run-{n}", tenant)))
    assert [r.review_id for r in state.reviews.pending()] == made  # oldest first
    assert [r.review_id for r in state.reviews.pending(frozenset({"acme"}))] == [made[0], made[2]]
    assert state.reviews.count_pending() == 3
    assert state.reviews.count_pending(frozenset({"globex"})) == 1
    state.reviews.decide(decision(made[0]))
    assert state.reviews.count_pending(frozenset({"acme"})) == 1
    assert state.reviews.pending(frozenset({"initech"})) == []


def test_a_review_is_decided_once(state: State) -> None:
    review_id = state.reviews.create("token-1", details("run-1"))
    assert state.reviews.decide(decision(review_id)) == "token-1"
    review = state.reviews.get(review_id)
    assert review.status == DECIDED and review.decision["decision"] == "approve"  # type: ignore[index]
    with pytest.raises(AlreadyDecided):
        state.reviews.decide(decision(review_id, "reject"))
    with pytest.raises(ReviewNotFound):
        state.reviews.decide(decision("rv-none"))
    assert state.reviews.count_pending() == 0


def test_a_decision_that_could_not_reach_the_flow_is_reopened(state: State) -> None:
    review_id = state.reviews.create("token-1", details("run-1"))
    state.reviews.decide(decision(review_id))
    state.reviews.reopen(decision(review_id))
    assert state.reviews.get(review_id).status == PENDING
    assert state.reviews.count_pending() == 1
    with pytest.raises(AlreadyDecided):
        state.reviews.reopen(decision(review_id))  # not decided any more: nothing to undo


def test_an_expired_review_leaves_the_pending_ones(state: State) -> None:
    waiting = state.reviews.create("token-1", details("run-1"))
    decided = state.reviews.create("token-2", details("run-2"))
    state.reviews.decide(decision(decided))
    assert state.reviews.expire(waiting) and state.reviews.expire(decided)
    assert {state.reviews.get(waiting).status, state.reviews.get(decided).status} == {EXPIRED}
    assert state.reviews.get(decided).decision is not None  # the decision is kept, though it went nowhere
    assert not state.reviews.expire(waiting)
    assert state.reviews.count_pending() == 0 and state.reviews.pending() == []


def test_a_review_must_name_its_run_and_tenant(state: State) -> None:
    with pytest.raises(ValueError, match="correlation_id"):
        state.reviews.create("token", {"subject": {"tenant": "acme"}})


# --- checkpoints ---------------------------------------------------------------
def test_a_first_approval_is_kept_and_the_review_waits_for_another_reviewer(state: State) -> None:
    review_id = state.reviews.create("token-1", {**details("run-1"), "approvals_needed": 2})
    kept = state.reviews.approve(decision(review_id, reason="looks right"))
    assert (kept.status, kept.approved_by, kept.approvals_needed) == (PENDING, ["ana"], 2)
    assert state.reviews.get(review_id).approvals[0]["reason"] == "looks right"
    with pytest.raises(AlreadyApproved):
        state.reviews.approve(decision(review_id))  # the same reviewer twice
    with pytest.raises(AlreadyApproved):
        state.reviews.decide(decision(review_id))  # nor the last approval by the first approver
    assert state.reviews.count_pending() == 1
    assert state.reviews.decide(decision(review_id, reviewer="ben", approved_by=["ana", "ben"])) == "token-1"
    assert state.reviews.get(review_id).status == DECIDED
    with pytest.raises(AlreadyDecided):
        state.reviews.approve(decision(review_id, reviewer="cy"))


def test_a_revision_restarts_the_approvals_and_a_rejection_needs_none(state: State) -> None:
    review_id = state.reviews.create("token-1", {**details("run-1"), "approvals_needed": 2})
    state.reviews.approve(decision(review_id))
    revised = state.reviews.approve(decision(review_id, "revise", "ben", edits={"total": "9"}), restart=True)
    assert revised.approved_by == ["ben"] and revised.approvals[0]["edits"] == {"total": "9"}
    state.reviews.decide(decision(review_id, "reject", "ben", reason="no"))  # who approved may still reject
    assert state.reviews.get(review_id).decision["decision"] == "reject"  # type: ignore[index]
    with pytest.raises(ReviewNotFound):
        state.reviews.approve(decision("rv-none"))


def test_the_audit_trail_keeps_a_runs_records_in_order(state: State) -> None:
    for n, what in enumerate(["review.requested", "review.approved", "review.decided"]):
        state.audit.append(
            AuditRecord(
                correlation_id="run-1",
                at=100.0 + n,
                actor="flow:f" if n == 0 else "ana",
                what=what,
                flow="f",
                tenant="acme",
                review_id="rv-1",
                details={"n": n},
                changes={"total": {"before": "1", "after": "2"}} if n == 2 else None,
            )
        )
    state.audit.append(AuditRecord("run-2", 99.0, "flow:f", "action.performed", "f", ""))
    trail = state.audit.of_run("run-1")
    assert [r.what for r in trail] == ["review.requested", "review.approved", "review.decided"]
    assert trail[2].changes == {"total": {"before": "1", "after": "2"}} and trail[0].details == {"n": 0}
    assert [r.what for r in state.audit.of_run("run-2")] == ["action.performed"]


def test_an_audit_record_is_written_once_and_expires_after_the_retention() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = state_table_like_the_stacks(ddb, "state")
        trail = DynamoDBAuditTrail(table, client=ddb, retention_days=30)
        trail.append(AuditRecord("run-1", 1000.0, "ana", "review.decided", "f", "acme"))
        (item,) = ddb.scan(TableName=table)["Items"]
        assert item["pk"]["S"] == "audit#run-1"
        assert int(item[keys.TTL_ATTRIBUTE]["N"]) == 1000 + 30 * 24 * 3600
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):  # never over an existing one
            ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")


def test_checkpoints_keep_the_finished_parts(state: State) -> None:
    state.checkpoints.save("w-1", 1, {"summary": "one", "cost_usd": 0.1})
    state.checkpoints.save("w-1", 2, {"summary": "two", "cost_usd": 0.2})
    assert state.checkpoints.done("w-1") == {
        1: {"summary": "one", "cost_usd": 0.1},
        2: {"summary": "two", "cost_usd": 0.2},
    }
    assert state.checkpoints.done("w-2") == {}


# --- key schema -----------------------------------------------------------------
def test_every_key_lives_under_its_own_prefix() -> None:
    found = [
        keys.breaker("m"),
        keys.cache("d"),
        keys.run_call("r", 1.0, 1, "c", "x"),
        keys.run_guard("r", 1.0, "input"),
        keys.run_total("r"),
        keys.run_review("r"),
        keys.review("rv-1"),
        keys.REVIEW_TENANTS,
        keys.feedback(1.0, "rv-1"),
        keys.FEEDBACK_MONTHS,
        keys.work_chunk("w", 1),
        keys.audit("r", 1.0, "x"),
    ]
    assert len({(k["pk"], k["sk"]) for k in found}) == len(found)
    assert keys.review_id_of(keys.review("rv-1")) == "rv-1"
    assert keys.feedback(1.0, "rv-1")["pk"] == "feedback#1970-01"


# --- feedback (DynamoDB only: the review API's export) -------------------------------
def test_feedback_is_read_by_month_and_time_range_not_by_a_scan() -> None:
    from aiflows_runtime.feedback import FeedbackStore
    from aiflows_runtime.state import Review

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = state_table_like_the_stacks(ddb, "state")
        clock = Clock(now=1_793_000_000.0)  # 2026-10-26
        store = FeedbackStore(table, client=ddb, clock=clock)
        made = []
        for n, step in enumerate([0, 3_500_000, 3_500_100]):  # October, then December twice
            clock.now = 1_793_000_000.0 + step
            review = Review(f"rv-{n}", DECIDED, clock.now, details(f"run-{n}"), None, "acme", f"run-{n}")
            store.record(review, decision(review.review_id))
            made.append(clock.now)
        assert store.months() == ["2026-10", "2026-11", "2026-12"]
        assert [line["id"] for line in store.lines()] == ["rv-0", "rv-1", "rv-2"]
        assert [line["id"] for line in store.lines(since=made[1])] == ["rv-1", "rv-2"]
        assert [line["id"] for line in store.lines(until=made[0])] == ["rv-0"]
        assert store.export_jsonl(since=made[2]).count("\n") == 1
