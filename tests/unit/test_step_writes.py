"""A model-calling step's idempotency record rides on its own writes: the claim on the hold, the
completion on the call's last ledger write.

The gateway on the DynamoDB adapters over moto, inside Powertools' ``idempotent_function`` on the
runtime's persistence layer (``StepRecords``, deferring its claim as the model capabilities do):
the requests each path sends, what a failure, a crash and a concurrent duplicate leave, and the
order of the writes when the step goes on after its call.
"""

from __future__ import annotations

import contextvars
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from moto import mock_aws

from aiflows.testing import state_table_like_the_stacks
from aiflows_runtime.state import (
    DynamoDBCheckpoints,
    DynamoDBLedger,
    keys,
)
from aiflows_runtime.state.idempotency import StepRecords, idempotent_step_function
from aiflows_runtime.state.step import begin_step, end_step
from bench.requests import IDEMPOTENCY, RequestCounter
from localcloud.model import LocalModel
from tests.unit.conftest import Clock
from tests.unit.test_gateway import ROUTE, Harness, ask, make_on_dynamodb

BUDGET = 0.05


class Context:
    """The part of the Lambda context idempotency reads: the time left, for the in-progress expiry."""

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class Crash(BaseException):
    """The execution environment dies: nothing runs after it (Powertools catches only Exception)."""


@dataclass
class Step:
    harness: Harness
    ddb: Any
    table: str
    requests: RequestCounter
    records: StepRecords
    context: Context

    def step(
        self, body: Callable[[dict[str, Any]], dict[str, Any]], records: StepRecords | None = None
    ) -> Callable[..., dict[str, Any]]:
        """``body`` as a capability's idempotent step, its record in the state table."""
        config = IdempotencyConfig(raise_on_no_idempotency_key=True, expires_after_seconds=3600)
        config.register_lambda_context(self.context)
        return idempotent_step_function(
            body,
            records=records or self.records,
            config=config,
            key_prefix=keys.idempotency_prefix("classify"),
        )

    def classify(
        self,
        then: Callable[[], None] = lambda: None,
        budget: float | None = BUDGET,
        records: StepRecords | None = None,
    ) -> Callable[..., dict[str, Any]]:
        """A classify step: one ask of the gateway, then ``then`` (what the step does after its call)."""

        def body(request: dict[str, Any]) -> dict[str, Any]:
            answer = ask(self.harness, request["text"], request["run"], budget=budget)
            then()
            return {"label": answer.value.label, "cache_hit": answer.cache_hit}

        return self.step(body, records)

    def claiming_at_once(self) -> StepRecords:
        """Records that claim before the step runs, as a step with other effects does."""
        return StepRecords(
            table_name=self.table, key_attr="pk", sort_key_attr="sk", boto3_client=self.records.client
        )

    def sent(self) -> list[tuple[str, str]]:
        """The DynamoDB requests sent since the last look, each with its label (idempotency's or not)."""
        return [(s.operation, s.label) for s in self.requests.take() if s.service == "dynamodb"]

    @property
    def ledger(self) -> DynamoDBLedger:
        return DynamoDBLedger(self.table, client=self.ddb)

    def lines(self, run: str) -> list[Any]:
        """The run's ledger lines, as another process reads them (in this one, a read of the
        adapters would first write what waits)."""
        return contextvars.Context().run(self.ledger.entries, run)

    def record(self, text: str, run: str) -> dict[str, Any] | None:
        """The step's idempotency record, as another process reads it (its request not counted)."""
        key = self.records._get_hashed_idempotency_key({"text": text, "run": run})
        found = (
            boto3.client("dynamodb", region_name="us-east-1")
            .get_item(TableName=self.table, Key=self.records._get_key(key), ConsistentRead=True)
            .get("Item")
        )
        return dict(found) if found else None


@pytest.fixture
def on_a_step(model: LocalModel, clock: Clock) -> Iterator[Step]:
    warnings.filterwarnings("ignore", message=".*dimension.*")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        own = boto3.client("dynamodb", region_name="us-east-1")  # Powertools' own, as in a function
        harness, table = make_on_dynamodb(model, clock, ddb)
        counter = RequestCounter().attach(ddb.meta.events)
        counter.attach(own.meta.events, IDEMPOTENCY)
        records = StepRecords(
            table_name=table, key_attr="pk", sort_key_attr="sk", boto3_client=own, defer_claim=True
        )
        yield Step(harness, ddb, table, counter, records, Context())
        end_step()  # no step left open for the next test


IDEM, OWN = IDEMPOTENCY, ""  # the labels: idempotency's requests, the gateway's


def test_an_uncached_call_completes_its_record_and_writes_its_line_in_one_transaction(
    on_a_step: Step, model: LocalModel
) -> None:
    assert ROUTE is not None and ROUTE.cacheable
    classify = on_a_step.classify()
    # When a step with a budget asks a cacheable route for the first time
    result = classify(request={"text": "Invoice, one transaction", "run": "run-1"})
    # Then: breaker + answer in one read; the claim + the hold; line + total + answer + completion
    assert on_a_step.sent() == [
        ("BatchGetItem", OWN),
        ("TransactWriteItems", OWN),
        ("TransactWriteItems", IDEM),
    ]
    [line] = on_a_step.ledger.entries("run-1")
    total = on_a_step.ledger.total("run-1")
    assert (total.calls, total.cost_usd, total.committed_usd) == (
        1,
        line.cost_usd,
        pytest.approx(line.cost_usd),
    )
    record = on_a_step.record("Invoice, one transaction", "run-1")
    assert record is not None and record["status"] == {"S": "COMPLETED"}
    # And the same input again is answered by its record: the cache's hit and its line go in the
    # completion, which the record refuses; Powertools' own claim then returns the stored result
    on_a_step.sent()
    assert classify(request={"text": "Invoice, one transaction", "run": "run-1"}) == result
    assert on_a_step.sent() == [("BatchGetItem", OWN), ("TransactWriteItems", IDEM), ("PutItem", IDEM)]
    assert len(model.calls) == 1 and len(on_a_step.ledger.entries("run-1")) == 1


def test_a_cached_call_sends_one_request_of_its_own_and_its_line_rides_on_the_completion(
    on_a_step: Step, model: LocalModel
) -> None:
    classify = on_a_step.classify()
    classify(request={"text": "Invoice, cached", "run": "run-1"})
    on_a_step.sent()
    # When another run asks the same
    result = classify(request={"text": "Invoice, cached", "run": "run-2"})
    # Then the cache answered: the gateway's one read; the claim, written completed, with the hit's line
    assert result["cache_hit"] is True
    assert on_a_step.sent() == [("BatchGetItem", OWN), ("TransactWriteItems", IDEM)]
    record = on_a_step.record("Invoice, cached", "run-2")
    assert record is not None and record["status"] == {"S": "COMPLETED"}
    [hit] = on_a_step.ledger.entries("run-2")
    assert (hit.cache_hit, hit.cost_usd) == (True, 0.0)
    assert on_a_step.ledger.total("run-2").calls == 1
    assert len(model.calls) == 1


def test_a_step_that_fails_after_its_call_deletes_its_record_and_keeps_the_line(
    on_a_step: Step, model: LocalModel
) -> None:
    class Refused(Exception):
        pass

    def refuse() -> None:
        raise Refused("the capability's logic refused the answer")

    failing = on_a_step.classify(then=refuse)
    # When the step raises after the model answered
    with pytest.raises(Refused):
        failing(request={"text": "Invoice, refused", "run": "run-f"})
    # Then the record's deletion and the paid call's line went in one transaction
    assert on_a_step.sent()[-1] == ("TransactWriteItems", IDEM)
    assert on_a_step.record("Invoice, refused", "run-f") is None
    [line] = on_a_step.ledger.entries("run-f")
    assert line.cost_usd > 0 and not line.cache_hit
    # And a retry runs the step again: the answer was cached with the line, so nothing is paid twice
    assert on_a_step.classify()(request={"text": "Invoice, refused", "run": "run-f"})["cache_hit"] is True
    assert [e.cache_hit for e in on_a_step.ledger.entries("run-f")] == [False, True]
    assert len(model.calls) == 1


def test_a_crash_between_the_call_and_the_completion_loses_the_line_never_the_hold(
    on_a_step: Step, model: LocalModel
) -> None:
    def die() -> None:
        raise Crash

    # Given an environment that dies after the model answered, before the function returned
    # (its own context: what it kept in memory dies with it; 0 ms left, so its claim expires at once)
    on_a_step.context.remaining_ms = 0
    with pytest.raises(Crash):
        contextvars.copy_context().run(
            on_a_step.classify(then=die), request={"text": "Invoice, crash", "run": "run-c"}
        )
    # Then the answered call has no line, and its hold (the worst case) stays set aside
    assert on_a_step.ledger.entries("run-c") == []
    held = on_a_step.ledger.total("run-c")
    assert (held.calls, held.cost_usd) == (0, 0) and held.committed_usd > 0
    record = on_a_step.record("Invoice, crash", "run-c")
    assert record is not None and record["status"] == {"S": "INPROGRESS"}
    # When the step is retried once its claim has expired
    on_a_step.context.remaining_ms = 30_000
    on_a_step.classify()(request={"text": "Invoice, crash", "run": "run-c"})
    # Then the call is made again and counted once; the dead hold only makes the budget stricter
    [line] = on_a_step.ledger.entries("run-c")
    total = on_a_step.ledger.total("run-c")
    assert len(model.calls) == 2
    assert (total.calls, total.cost_usd) == (1, line.cost_usd)
    assert total.committed_usd == pytest.approx(held.committed_usd + line.cost_usd)


def test_a_step_left_open_in_a_living_environment_writes_its_line_at_the_next_claim(
    on_a_step: Step,
) -> None:
    def stop() -> None:
        raise Crash

    # Given a step whose function stopped past Powertools (no completion, no deletion), its process alive
    on_a_step.context.remaining_ms = 60_000
    with pytest.raises(Crash):
        on_a_step.classify(then=stop)(request={"text": "Invoice, stopped", "run": "run-s"})
    assert on_a_step.lines("run-s") == []
    # When the next invocation of the environment claims its own record
    with pytest.raises(IdempotencyAlreadyInProgressError):
        on_a_step.classify()(request={"text": "Invoice, stopped", "run": "run-s"})
    # Then what the stopped step left was written first: the paid call has its line
    assert len(on_a_step.ledger.entries("run-s")) == 1


def test_a_step_that_goes_on_after_its_call_writes_the_line_before_anything_else(
    on_a_step: Step, clock: Clock
) -> None:
    checkpoints = DynamoDBCheckpoints(on_a_step.table, client=on_a_step.ddb, clock=clock)

    def checkpoint() -> None:
        checkpoints.save("work-1", 1, {"summary": "done"})

    # When a step checkpoints its work after the call (the worker does, chunk by chunk)
    on_a_step.classify(then=checkpoint)(request={"text": "Invoice, then a checkpoint", "run": "run-w"})
    # Then the call's line went out first, in its own transaction, and the completion alone at the end
    assert on_a_step.sent() == [
        ("BatchGetItem", OWN),
        ("TransactWriteItems", OWN),
        ("TransactWriteItems", OWN),
        ("PutItem", OWN),
        ("UpdateItem", IDEM),
    ]
    assert len(on_a_step.ledger.entries("run-w")) == 1


def test_a_waiting_settle_keeps_the_calls_hold_set_aside_until_it_is_written(on_a_step: Step) -> None:
    ledger = on_a_step.harness.ledger
    # Given a step whose call settled (cost 0.01 for a hold of 0.3), its write waiting
    begin_step()
    hold = ledger.hold("run-b", 0.3, budget_usd=1.0)
    on_a_step.sent()
    ledger.settle(hold, entry_costing(0.01))
    # Then nothing was sent; a sibling branch (another environment) still sees the hold set aside
    assert on_a_step.sent() == []
    assert contextvars.Context().run(ledger.total, "run-b").committed_usd == pytest.approx(0.3)
    # And once the step's end writes it (here: alone), the total is the call's cost
    _, waiting = end_step()
    assert [next(iter(a)) for a in waiting] == ["Put", "Update"]
    on_a_step.ddb.transact_write_items(TransactItems=waiting)
    total = ledger.total("run-b")
    assert (total.calls, total.committed_usd) == (1, pytest.approx(0.01))


def entry_costing(cost: float) -> Any:
    from aiflows_runtime.state import LedgerEntry

    return LedgerEntry("classify", "m", "classify/v1", "p1", 10, 10, 1.0, cost, False, "ok", "f", "acme")


def test_a_completion_that_keeps_conflicting_is_written_one_by_one_the_line_first(
    on_a_step: Step, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiflows_runtime.state.transactions import TRANSACTION_ATTEMPTS
    from tests.unit.test_state import AlwaysConflicting

    # Given idempotency's client, whose every transaction meets another one past the retries
    monkeypatch.setattr("aiflows_runtime.state.transactions.time.sleep", lambda _seconds: None)
    conflicting = AlwaysConflicting(on_a_step.records.client)
    on_a_step.records.client = conflicting
    # When a step's call settles and its function returns
    on_a_step.classify()(request={"text": "Invoice, conflicting", "run": "run-x"})
    # Then after each attempt was cancelled, every write was made on its own: line, total, answer, record
    assert conflicting.transactions == TRANSACTION_ATTEMPTS
    [line] = on_a_step.ledger.entries("run-x")
    assert on_a_step.ledger.total("run-x").cost_usd == line.cost_usd
    record = on_a_step.record("Invoice, conflicting", "run-x")
    assert record is not None and record["status"] == {"S": "COMPLETED"}
    assert on_a_step.classify()(request={"text": "Invoice, conflicting", "run": "run-y"})["cache_hit"] is True


def test_a_waiting_write_that_could_not_go_out_early_goes_with_the_steps_end(on_a_step: Step) -> None:
    from botocore.exceptions import ClientError

    ledger = on_a_step.harness.ledger
    begin_step()
    ledger.settle(ledger.hold("run-t", 0.3, budget_usd=1.0), entry_costing(0.01))
    # Given DynamoDB refusing the next transaction (throttled past botocore's retries)
    real = on_a_step.ddb.transact_write_items

    def throttled(**_: Any) -> None:
        on_a_step.ddb.transact_write_items = real
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]

    on_a_step.ddb.transact_write_items = throttled
    # When the step's next request would write it first, and fails
    with pytest.raises(ClientError):
        ledger.total("run-t")
    # Then nothing was lost: the waiting write is still there for the step's end
    _, waiting = end_step()
    assert [next(iter(a)) for a in waiting] == ["Put", "Update"]
    on_a_step.ddb.transact_write_items(TransactItems=waiting)
    assert ledger.total("run-t").calls == 1


def test_a_duplicate_while_the_step_runs_is_refused_with_nothing_of_its_hold_written(
    on_a_step: Step, model: LocalModel
) -> None:
    request = {"text": "Invoice, twice at once", "run": "run-d"}
    duplicate = on_a_step.classify()  # defers its claim
    seen: dict[str, Any] = {}

    def meanwhile() -> None:
        # another environment (its own context) gets the same input while the first step runs
        before = contextvars.Context().run(on_a_step.ledger.total, "run-d").committed_usd
        with pytest.raises(IdempotencyAlreadyInProgressError):
            contextvars.Context().run(duplicate, request=request)
        seen["committed"] = (before, contextvars.Context().run(on_a_step.ledger.total, "run-d").committed_usd)

    # Given a step that claimed its record at once, and is past its model call
    on_a_step.classify(then=meanwhile, records=on_a_step.claiming_at_once())(request=request)
    # Then the duplicate's claim was refused in its hold's transaction: no hold, no model call
    before, after = seen["committed"]
    assert before > 0 and after == before
    assert len(model.calls) == 1 and len(on_a_step.ledger.entries("run-d")) == 1


@pytest.mark.parametrize(
    ("budget", "claim"),
    [(BUDGET, ("TransactWriteItems", OWN)), (None, ("PutItem", IDEM))],
    ids=["with the hold", "alone, no budget to hold"],
)
def test_the_claim_is_written_before_the_model_is_called(
    on_a_step: Step, monkeypatch: pytest.MonkeyPatch, budget: float | None, claim: tuple[str, str]
) -> None:
    request = {"text": f"Invoice, budget {budget}", "run": "run-m"}
    bedrock = on_a_step.harness.gateway._bedrock
    converse = bedrock.converse
    at_the_call: list[dict[str, Any] | None] = []

    def calling(**sent: Any) -> Any:
        at_the_call.append(on_a_step.record(request["text"], request["run"]))
        return converse(**sent)

    monkeypatch.setattr(bedrock, "converse", calling)
    # When a step that defers its claim calls the model
    on_a_step.classify(budget=budget)(request=request)
    # Then its record was claimed (in progress) when the model was called
    [record] = at_the_call
    assert record is not None and record["status"] == {"S": "INPROGRESS"}
    assert on_a_step.sent() == [("BatchGetItem", OWN), claim, ("TransactWriteItems", IDEM)]


def test_a_step_refused_before_its_first_write_reads_its_record_and_leaves_nothing(on_a_step: Step) -> None:
    from aiflows_runtime.gateway import BudgetExceeded

    request = {"text": "Invoice, over a tiny budget", "run": "run-o"}
    # When a step's first call would cost more than the whole budget
    with pytest.raises(BudgetExceeded):
        on_a_step.classify(budget=1e-9)(request=request)
    # Then it read (the breaker and answer, the run's total), then whether another invocation
    # holds its record (none does): no claim, no hold, no deletion
    assert on_a_step.sent() == [("BatchGetItem", OWN), ("GetItem", OWN), ("GetItem", IDEM)]
    assert on_a_step.record(request["text"], request["run"]) is None
    assert on_a_step.ledger.total("run-o").committed_usd == 0


def test_a_hold_the_budget_refuses_writes_neither_it_nor_the_claim_it_carried(
    on_a_step: Step, model: LocalModel
) -> None:
    from aiflows_runtime.gateway import BudgetExceeded

    request = {"text": "Invoice, the budget all but spent", "run": "run-b"}
    # Given a run whose other branch holds all but a sliver of the budget
    spent = BUDGET - 1e-7
    contextvars.Context().run(on_a_step.ledger.hold, "run-b", spent, BUDGET)
    # When a step's hold (its claim with it) passes the budget
    with pytest.raises(BudgetExceeded):
        on_a_step.classify()(request=request)
    # Then the transaction wrote nothing: no record, the budget as it was, the model not called
    assert ("TransactWriteItems", OWN) in on_a_step.sent()
    assert on_a_step.record(request["text"], request["run"]) is None
    assert on_a_step.ledger.total("run-b").committed_usd == pytest.approx(spent)
    assert model.calls == []


class Broken(Exception):
    """The step's logic fails before its first write (a bad input, a breaker open on every model)."""


def fails_before_writing(request: dict[str, Any]) -> dict[str, Any]:
    raise Broken(request["text"])


def test_a_repeat_that_fails_before_its_first_write_gets_the_stored_result(on_a_step: Step) -> None:
    # Given a step that completed
    request = {"text": "Invoice, answered", "run": "run-r"}
    result = on_a_step.classify()(request=request)
    # When the same input comes again, and this time the step fails before it writes anything
    again = on_a_step.step(fails_before_writing)(request=request)
    # Then it is answered as a claim at once would be: with the stored result
    assert again == result


def test_a_duplicate_that_fails_before_its_first_write_is_told_the_step_is_in_progress(
    on_a_step: Step,
) -> None:
    request = {"text": "Invoice, in progress", "run": "run-p"}
    seen: list[BaseException] = []

    def meanwhile() -> None:
        with pytest.raises(IdempotencyAlreadyInProgressError) as told:
            contextvars.Context().run(on_a_step.step(fails_before_writing), request=request)
        seen.append(told.value)

    # Given a step that claimed its record and runs; when a duplicate of it fails before writing
    on_a_step.classify(then=meanwhile, records=on_a_step.claiming_at_once())(request=request)
    # Then the duplicate got Powertools' answer for a held record, not its own failure
    assert len(seen) == 1


def test_a_result_powertools_cannot_store_leaves_nothing_for_the_next_invocation(
    on_a_step: Step,
) -> None:
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

    def unstorable(request: dict[str, Any]) -> dict[str, Any]:
        ask(on_a_step.harness, request["text"], request["run"], budget=BUDGET)
        return {"answer": object()}  # not JSON

    # When a step's result cannot be serialized, so its record is never completed
    with pytest.raises(IdempotencyPersistenceLayerError):
        on_a_step.step(unstorable)(request={"text": "Invoice, unstorable", "run": "run-u"})
    # Then the paid call's line was still written
    assert len(on_a_step.lines("run-u")) == 1
    on_a_step.sent()
    # And the same environment's next write is only its own: no claim or line of that step rides on it
    on_a_step.ledger.hold("run-other", 0.001, BUDGET)
    assert on_a_step.sent() == [("UpdateItem", OWN)]


def test_a_claim_written_completed_is_the_record_powertools_claim_and_completion_leave() -> None:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = state_table_like_the_stacks(ddb, "state")
        at_once, deferred = (
            StepRecords(table_name=table, key_attr="pk", sort_key_attr="sk", boto3_client=ddb, defer_claim=d)
            for d in (False, True)
        )

        def through(records: StepRecords, key: str) -> dict[str, Any]:
            claimed = DataRecord(
                key, "INPROGRESS", 1_900_000_000, in_progress_expiry_timestamp=1_800_000_000_000
            )
            records._put_record(claimed)
            records._update_record(DataRecord(key, "COMPLETED", 1_900_000_001, response_data='{"a": 1}'))
            item = ddb.get_item(TableName=table, Key=records._get_key(key), ConsistentRead=True)["Item"]
            return {name: value for name, value in item.items() if name not in ("pk", "sk")}

        # When one record is claimed then completed by Powertools' two writes, the other claimed
        # completed in one (the deferred claim, at the completion)
        # Then both hold the same attributes
        assert through(at_once, "idempotency#classify#a") == through(deferred, "idempotency#classify#b")
