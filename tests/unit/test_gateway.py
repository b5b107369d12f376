"""The model gateway, unit-tested: the local model as its Bedrock, the run's state as in-memory fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from aiflows.registry import capabilities
from aiflows.testing import state_table_like_the_stacks
from aiflows_runtime.contracts import parse_answer
from aiflows_runtime.deadlines import call_seconds
from aiflows_runtime.gateway import (
    BudgetExceeded,
    ModelGateway,
    ModelUnavailable,
    RunContext,
    estimate_tokens,
)
from aiflows_runtime.policies import routing_policy
from aiflows_runtime.state import (
    CLOSED,
    OPEN,
    BreakerState,
    CircuitBreaker,
    DynamoDBBreakerStore,
    DynamoDBCache,
    DynamoDBLedger,
    LedgerEntry,
)
from aiflows_runtime.state.memory import MemoryBreakerStore, MemoryCache, MemoryLedger
from bench.requests import RequestCounter
from localcloud.model import LocalModel, Malformed, Throttle
from tests.unit.conftest import Bedrock, Clock, Invocation

CLASSIFY = capabilities()["classify"]  # a real capability's route and prompt
ROUTE = CLASSIFY.manifest.model
assert ROUTE is not None
ClassifyAnswer = CLASSIFY.answer_model()
PRIMARY, FALLBACK = ROUTE.models[:2]
ATTEMPTS = routing_policy().gateway.attempts_per_model


@dataclass
class Harness:
    gateway: ModelGateway
    breaker: CircuitBreaker
    ledger: Any  # MemoryLedger, or a DynamoDBLedger
    clock: Clock
    bedrock: Bedrock
    invocation: Invocation
    sleeps: list[float] = field(default_factory=list)
    calls: list[LedgerEntry] = field(default_factory=list)


def make(
    model: LocalModel,
    clock: Clock,
    breakers: Any = None,
    cache: Any = None,
    ledger: Any = None,
) -> Harness:
    """A gateway on the in-memory fakes, or on the stores given (DynamoDB adapters)."""
    rules = routing_policy()
    sleeps: list[float] = []
    calls: list[LedgerEntry] = []
    bedrock = Bedrock(model, clock, call_seconds(rules.gateway))
    invocation = Invocation(clock)
    breaker = CircuitBreaker(breakers or MemoryBreakerStore(), rules.breaker, clock=clock)
    ledger = ledger or MemoryLedger()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    gateway = ModelGateway(
        policy=rules,
        bedrock=bedrock,
        breaker=breaker,
        cache=cache or MemoryCache(rules.gateway.cache_ttl_seconds, clock=clock),
        ledger=ledger,
        on_call=lambda run, entry: calls.append(entry),
        sleep=sleep,
        jitter=lambda low, high: high,
        remaining=invocation.remaining,
    )
    return Harness(gateway, breaker, ledger, clock, bedrock, invocation, sleeps, calls)


@pytest.fixture
def harness(model: LocalModel, clock: Clock) -> Harness:
    return make(model, clock)


def ask(harness: Harness, text: str, correlation_id: str = "run-1", budget: float | None = None):
    prompt = CLASSIFY.prompt().render(labels="invoice, contract, other", title="T", text=text)
    run = RunContext(correlation_id=correlation_id, flow="test", tenant="acme", budget_usd=budget)
    return harness.gateway.ask("classify", ROUTE, prompt, run, lambda t: parse_answer(t, ClassifyAnswer))


def test_a_throttled_primary_falls_back_to_the_next_model(harness: Harness, model: LocalModel) -> None:
    # Given the primary model throttles every call
    rules = harness.gateway.policy.gateway
    attempts = rules.attempts_per_model
    model.script(PRIMARY, *[Throttle()] * attempts)
    # When the capability asks
    answer = ask(harness, "Invoice: amount due 10 EUR")
    # Then the primary was tried as often as the policy says, with backoff, then the fallback answered
    assert answer.model_id == FALLBACK
    assert answer.value.label == "invoice"
    assert [c.outcome for c in model.calls_to(PRIMARY)] == ["throttled"] * attempts
    assert [a.outcome for a in harness.gateway.attempts] == ["throttled"] * attempts + ["ok"]
    # Exponential backoff with full jitter (jitter pinned to its ceiling here): base * 2^n, capped
    assert harness.sleeps == [
        min(rules.backoff_cap_seconds, rules.backoff_base_seconds * 2**n) for n in range(1, attempts)
    ]
    assert harness.sleeps  # the policy retries at least once


def test_a_timeout_counts_as_a_failure_of_that_model_at_once(harness: Harness, model: LocalModel) -> None:
    # Given the primary hangs past its read timeout on every call
    harness.bedrock.hanging.add(PRIMARY)
    # When the capability asks
    answer = ask(harness, "Invoice for the timeout test")
    # Then the fallback answers, and each hang was counted by the primary's breaker as it happened
    assert answer.model_id == FALLBACK
    timeouts = [a for a in harness.gateway.attempts if a.outcome == "timeout"]
    assert timeouts and {a.model_id for a in timeouts} == {PRIMARY}
    assert harness.breaker.read(PRIMARY).failures == len(timeouts)
    assert "timed out" in harness.breaker.read(PRIMARY).last_error


def test_a_malformed_answer_is_repaired_once_by_the_same_model_and_both_calls_are_paid(
    harness: Harness, model: LocalModel
) -> None:
    # Given the primary answers with something that is not the contract's JSON
    model.script(PRIMARY, Malformed())
    calls_before = len(model.calls_to(PRIMARY))
    answer = ask(harness, "Invoice for the repair test", correlation_id="run-r")
    # Then the same model is asked again, shown its answer and the validation error, and repairs it
    assert answer.model_id == PRIMARY
    outcomes = [(e.model_id, e.outcome) for e in harness.ledger.entries("run-r")]
    assert outcomes == [(PRIMARY, "malformed"), (PRIMARY, "repaired")]
    assert [a.outcome for a in harness.gateway.attempts] == ["malformed", "repaired"]
    # And the repair carried the conversation: the prompt, the bad answer, the error
    assert len(model.calls_to(PRIMARY)) == calls_before + 2
    assert harness.ledger.entries("run-r")[0].output_tokens > 0
    assert harness.breaker.read(PRIMARY).failures == 0


def test_a_second_malformed_answer_moves_on_and_both_are_still_paid_for(
    harness: Harness, model: LocalModel
) -> None:
    model.script(PRIMARY, Malformed(), Malformed())
    answer = ask(harness, "Invoice for the malformed test", correlation_id="run-m")
    assert answer.model_id == FALLBACK
    outcomes = [(e.model_id, e.outcome) for e in harness.ledger.entries("run-m")]
    assert outcomes == [(PRIMARY, "malformed"), (PRIMARY, "malformed"), (FALLBACK, "ok")]
    assert all(e.output_tokens > 0 for e in harness.ledger.entries("run-m")[:2])


def test_the_repair_request_shows_the_model_its_answer_and_the_error() -> None:
    from aiflows_runtime.gateway import repair_request

    request = {"modelId": "m", "messages": [{"role": "user", "content": [{"text": "Classify: ..."}]}]}
    repaired = repair_request(request, "label: invoice", "no JSON object in the answer")
    assert repaired["messages"][:1] == request["messages"]
    assert repaired["messages"][1] == {"role": "assistant", "content": [{"text": "label: invoice"}]}
    assert "no JSON object in the answer" in repaired["messages"][2]["content"][0]["text"]
    assert repaired["messages"][2]["role"] == "user"
    assert request["messages"] == [{"role": "user", "content": [{"text": "Classify: ..."}]}]  # untouched


def test_the_breaker_opens_then_recovers_after_the_half_open_probe(
    harness: Harness, model: LocalModel
) -> None:
    settings = harness.gateway.policy.breaker
    # Given the primary fails on every attempt of `failure_threshold` asks
    model.script(PRIMARY, *[Throttle()] * (ATTEMPTS * settings.failure_threshold))
    for n in range(settings.failure_threshold):
        assert ask(harness, f"Invoice number {n}").model_id == FALLBACK
    # Then its breaker is open, shared through the table
    assert harness.breaker.read(PRIMARY).state == OPEN
    # And while open the primary is not called at all
    before = len(model.calls_to(PRIMARY))
    assert ask(harness, "Invoice while open").model_id == FALLBACK
    assert len(model.calls_to(PRIMARY)) == before
    assert harness.gateway.attempts[0].outcome == "open"
    # When the open period has passed, one probe goes through and succeeds
    harness.clock.now += settings.open_seconds
    assert ask(harness, "Invoice after the pause").model_id == PRIMARY
    # Then the breaker is closed again
    assert harness.breaker.read(PRIMARY).state == CLOSED


def test_a_failed_probe_opens_the_breaker_again(harness: Harness, model: LocalModel) -> None:
    settings = harness.gateway.policy.breaker
    model.script(PRIMARY, *[Throttle()] * (ATTEMPTS * (settings.failure_threshold + 1)))
    for n in range(settings.failure_threshold):
        ask(harness, f"Invoice {n}")
    harness.clock.now += settings.open_seconds
    assert ask(harness, "Invoice probe").model_id == FALLBACK
    state = harness.breaker.read(PRIMARY)
    assert (state.state, state.opened_at) == (OPEN, harness.clock.now)


def test_only_one_instance_gets_the_half_open_probe(harness: Harness, model: LocalModel) -> None:
    settings = harness.gateway.policy.breaker
    shared = MemoryBreakerStore()
    harness = make(model, harness.clock, breakers=shared)
    for _ in range(settings.failure_threshold):
        harness.breaker.record_failure(PRIMARY)
    harness.clock.now += settings.open_seconds
    other = CircuitBreaker(shared, settings, clock=harness.clock)
    assert [harness.breaker.allow(PRIMARY), other.allow(PRIMARY)] == [True, False]


def test_a_cache_hit_costs_zero_tokens(harness: Harness, model: LocalModel) -> None:
    first = ask(harness, "Invoice to cache", correlation_id="run-c")
    second = ask(harness, "Invoice to cache", correlation_id="run-c")
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert (second.input_tokens, second.output_tokens, second.cost_usd) == (0, 0, 0.0)
    assert second.value == first.value
    assert len(model.calls) == 1
    entries = harness.ledger.entries("run-c")
    assert [(e.cache_hit, e.input_tokens) for e in entries] == [(False, first.input_tokens), (True, 0)]


def test_the_ledger_sums_match_the_calls_actually_made(harness: Harness, model: LocalModel) -> None:
    model.script(PRIMARY, Throttle(), Malformed())
    for n in range(3):
        ask(harness, f"Invoice ledger {n}", correlation_id="run-l")
    made = [c for c in model.calls if c.outcome != "throttled"]
    prices = harness.gateway.policy.models
    expected_cost = sum(prices[c.model_id].cost(c.input_tokens, c.output_tokens) for c in made)
    total = harness.ledger.total("run-l")
    entries = harness.ledger.entries("run-l")
    assert total.calls == len(entries) == len(made)
    assert total.input_tokens == sum(c.input_tokens for c in made) == sum(e.input_tokens for e in entries)
    assert total.output_tokens == sum(c.output_tokens for c in made)
    assert total.cost_usd == pytest.approx(expected_cost)
    assert total.cost_usd == pytest.approx(sum(e.cost_usd for e in entries))
    # And every call went out as metrics too
    assert [(e.model_id, e.input_tokens) for e in harness.calls] == [
        (e.model_id, e.input_tokens) for e in entries
    ]


def test_a_run_over_its_budget_stops_before_the_call(harness: Harness, model: LocalModel) -> None:
    ask(harness, "Invoice within budget", correlation_id="run-b", budget=0.01)
    spent = harness.ledger.total("run-b").cost_usd
    with pytest.raises(BudgetExceeded, match="over the flow's budget"):
        ask(harness, "Invoice over budget", correlation_id="run-b", budget=spent + 1e-9)
    assert len(model.calls) == 1


def test_when_every_model_fails_the_step_fails_with_a_transient_error(
    harness: Harness, model: LocalModel
) -> None:
    model.script(PRIMARY, *[Throttle()] * ATTEMPTS)
    model.script(FALLBACK, *[Throttle()] * ATTEMPTS)
    with pytest.raises(ModelUnavailable, match="no model could answer"):
        ask(harness, "Invoice nobody answers")


def test_the_converse_request_is_valid_against_botocores_service_model() -> None:
    # Given a real bedrock-runtime client whose calls a Stubber intercepts and validates
    import boto3

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    answer_text = json.dumps({"label": "invoice", "confidence": 0.9, "evidence": ["invoice"]})
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": answer_text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 50, "outputTokens": 12, "totalTokens": 62},
        "metrics": {"latencyMs": 120},
    }

    rules = routing_policy()
    gateway = ModelGateway(
        policy=rules,
        bedrock=client,
        breaker=CircuitBreaker(MemoryBreakerStore(), rules.breaker),
        cache=MemoryCache(rules.gateway.cache_ttl_seconds),
        ledger=MemoryLedger(),
    )
    prompt = CLASSIFY.prompt().render(labels="invoice, other", title="T", text="An invoice")
    expected = gateway._request("classify", ROUTE, PRIMARY, prompt, RunContext("run-s", "test", "acme"))
    with Stubber(client) as stub:
        stub.add_response("converse", response, expected_params=expected)
        answer = gateway.ask(
            "classify",
            ROUTE,
            prompt,
            RunContext("run-s", "test", "acme"),
            lambda t: parse_answer(t, ClassifyAnswer),
        )
        stub.assert_no_pending_responses()
    assert (answer.input_tokens, answer.output_tokens) == (50, 12)
    assert answer.cost_usd == pytest.approx(routing_policy().models[PRIMARY].cost(50, 12))


def test_a_repair_that_would_pass_the_budget_is_not_made(harness: Harness, model: LocalModel) -> None:
    policy = harness.gateway.policy
    route = ROUTE
    price = policy.models[PRIMARY]
    # Given a budget that fits the first call's worst case, but not a second call on top of it
    prompt = CLASSIFY.prompt().render(
        labels="invoice, contract, other", title="T", text="Invoice for the budgeted repair"
    )
    first = price.cost(estimate_tokens(prompt.system + prompt.text), route.max_tokens)
    model.script(PRIMARY, Malformed())
    # When the first answer is malformed
    with pytest.raises(BudgetExceeded, match="over the flow's budget"):
        ask(harness, "Invoice for the budgeted repair", correlation_id="run-rb", budget=first * 1.02)
    # Then only the malformed call was made and paid; the repair was refused before it went out
    assert [(e.model_id, e.outcome) for e in harness.ledger.entries("run-rb")] == [(PRIMARY, "malformed")]


def test_in_its_region_the_gateway_calls_each_model_by_the_id_the_local_model_serves_there(
    clock: Clock,
) -> None:
    # Given a gateway in us-east-1, and a local model that refuses the ids Bedrock refuses there
    rules = routing_policy()
    model = LocalModel(region="us-east-1")
    bedrock = Bedrock(model, clock, call_seconds(rules.gateway))
    gateway = ModelGateway(
        policy=rules,
        bedrock=bedrock,
        breaker=CircuitBreaker(MemoryBreakerStore(), rules.breaker, clock=clock),
        cache=MemoryCache(rules.gateway.cache_ttl_seconds, clock=clock),
        ledger=MemoryLedger(),
        sleep=lambda seconds: None,
        remaining=Invocation(clock).remaining,
        region="us-east-1",
    )
    # When the primary (Nova, in region) is throttled and the fallback (Claude, profile only) answers
    model.script(PRIMARY, *[Throttle()] * ATTEMPTS)
    prompt = CLASSIFY.prompt().render(labels="invoice, contract, other", title="T", text="An invoice")
    answer = gateway.ask(
        "classify",
        ROUTE,
        prompt,
        RunContext("run-region", "test", "acme"),
        lambda t: parse_answer(t, ClassifyAnswer),
    )
    # Then Nova went by its own id and Claude by its US inference profile, which the local model answered
    assert bedrock.sent == [PRIMARY] * ATTEMPTS + [f"us.{FALLBACK}"]
    assert FALLBACK.startswith("anthropic.") and PRIMARY.startswith("amazon.nova")
    assert answer.model_id == FALLBACK and answer.value.label == "invoice"
    assert [c.model_id for c in model.calls] == [PRIMARY] * ATTEMPTS + [FALLBACK]


# --- DynamoDB requests per model call (issue 16) --------------------------------------------
@dataclass
class OnDynamoDB:
    harness: Harness
    requests: RequestCounter

    def ask(self, text: str, correlation_id: str, budget: float | None = 0.05) -> list[str]:
        """The DynamoDB requests one call of the gateway sent."""
        self.requests.take()
        ask(self.harness, text, correlation_id=correlation_id, budget=budget)
        return [s.operation for s in self.requests.take() if s.service == "dynamodb"]


@pytest.fixture
def on_dynamodb(model: LocalModel, clock: Clock) -> Iterator[OnDynamoDB]:
    """The gateway on the DynamoDB adapters over moto, each request its client sends counted
    from botocore's before-send event."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        harness, _ = make_on_dynamodb(model, clock, ddb)
        yield OnDynamoDB(harness, RequestCounter().attach(ddb.meta.events))


def make_on_dynamodb(model: LocalModel, clock: Clock, ddb: Any) -> tuple[Harness, str]:
    """The gateway on the DynamoDB adapters of a state table made as the stack makes it, in moto."""
    table = state_table_like_the_stacks(ddb, "state")
    ttl = routing_policy().gateway.cache_ttl_seconds
    harness = make(
        model,
        clock,
        breakers=DynamoDBBreakerStore(table, client=ddb),
        cache=DynamoDBCache(table, ttl, client=ddb, clock=clock),
        ledger=DynamoDBLedger(table, client=ddb, clock=clock),
    )
    return harness, table


def test_an_uncached_call_costs_three_dynamodb_requests_and_a_cached_one_two(on_dynamodb: OnDynamoDB) -> None:
    assert ROUTE is not None and ROUTE.cacheable
    # When a run with a budget asks a cacheable route for the first time
    # Then: its breaker and answer in one read, the budget's hold, its line + total + answer in one write
    assert on_dynamodb.ask("Invoice counted", "run-n1") == [
        "BatchGetItem",
        "UpdateItem",
        "TransactWriteItems",
    ]
    # And another run asking the same is answered by the cache: one read, and its line + total
    assert on_dynamodb.ask("Invoice counted", "run-n2") == ["BatchGetItem", "TransactWriteItems"]
    assert on_dynamodb.harness.ledger.total("run-n2").calls == 1
    # And with no budget there is nothing to hold
    assert on_dynamodb.ask("Invoice counted, no budget", "run-n3", budget=None) == [
        "BatchGetItem",
        "TransactWriteItems",
    ]


def test_a_success_writes_the_breaker_only_when_it_changes_it(on_dynamodb: OnDynamoDB) -> None:
    harness = on_dynamodb.harness
    # Given the primary's breaker counted a failure
    harness.breaker.record_failure(PRIMARY, "throttled")
    # When a call to it succeeds
    sent = on_dynamodb.ask("Invoice after a failure", "run-f")
    # Then the closed breaker is written once, on the version read with the cached answer
    assert sent == ["BatchGetItem", "UpdateItem", "PutItem", "TransactWriteItems"]
    assert (harness.breaker.read(PRIMARY).state, harness.breaker.read(PRIMARY).failures) == (CLOSED, 0)
    # And the next success writes nothing to it
    assert "PutItem" not in on_dynamodb.ask("Invoice after the reset", "run-f2")


def test_a_success_on_a_stale_breaker_state_reads_it_again_and_still_closes_it(clock: Clock) -> None:
    # Given another instance changed the breaker after this call was admitted on it
    store = MemoryBreakerStore()
    breaker = CircuitBreaker(store, routing_policy().breaker, clock=clock)
    breaker.record_failure("m", "throttled")
    seen = breaker.admit("m")
    assert seen is not None and seen.failures == 1
    breaker.record_failure("m", "throttled elsewhere")
    # When this call succeeds on what it saw
    breaker.record_success("m", seen)
    # Then the write on the stale version was refused, the state read again, and the breaker closed
    assert store.read("m") == BreakerState(version=3)
