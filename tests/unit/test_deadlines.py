"""Deadlines: every model call and retry fits the function's time, and the worst case per state holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiflows.registry import capabilities
from aiflows_runtime.contracts import parse_answer
from aiflows_runtime.deadlines import call_seconds, minimum_function_seconds, worst_case
from aiflows_runtime.gateway import ModelGateway, ModelUnavailable, RunContext
from aiflows_runtime.policies import routing_policy
from aiflows_runtime.state import CircuitBreaker
from aiflows_runtime.state.memory import MemoryBreakerStore, MemoryCache, MemoryLedger
from localcloud.model import LocalModel, Malformed, Throttle
from tests.unit.conftest import Bedrock, Clock, Invocation

ROOT = Path(__file__).resolve().parents[2]
CLASSIFY = capabilities()["classify"]
ROUTE = CLASSIFY.manifest.model
assert ROUTE is not None
PRIMARY, FALLBACK = ROUTE.models
POLICY = routing_policy()
ONE_CALL = call_seconds(POLICY.gateway)
MODEL_STATES = {
    n: c for n, c in capabilities().items() if c.manifest.model and not c.manifest.reaches.work_queue
}


def gateway(
    model: LocalModel, clock: Clock, invocation: Invocation, hanging: set[str]
) -> tuple[ModelGateway, Bedrock]:
    bedrock = Bedrock(model, clock, ONE_CALL, hanging=set(hanging))

    def sleep(seconds: float) -> None:
        clock.now += seconds

    built = ModelGateway(
        policy=POLICY,
        bedrock=bedrock,
        breaker=CircuitBreaker(MemoryBreakerStore(), POLICY.breaker, clock=clock),
        cache=MemoryCache(POLICY.gateway.cache_ttl_seconds, clock=clock),
        ledger=MemoryLedger(),
        sleep=sleep,
        jitter=lambda low, high: high,  # the longest backoff the policy allows
        remaining=invocation.remaining,
    )
    return built, bedrock


def ask(built: ModelGateway, text: str = "Invoice 7: amount due 10 EUR") -> str:
    prompt = CLASSIFY.prompt().render(labels="invoice, contract, other", title="T", text=text)
    answer = built.ask(
        "classify",
        ROUTE,
        prompt,
        RunContext("run-d", "test", "acme"),
        lambda t: parse_answer(t, CLASSIFY.answer_model()),
    )
    return answer.model_id


def test_a_hanging_primary_leaves_the_fallback_its_call(model: LocalModel, clock: Clock) -> None:
    # Given an invocation with the function's whole timeout ahead, and a primary that never answers
    invocation = Invocation(clock)
    invocation.start(CLASSIFY.manifest.timeout_seconds)
    built, bedrock = gateway(model, clock, invocation, {PRIMARY})
    # When the capability asks
    answered_by = ask(built)
    # Then the primary got one call, was not retried into the fallback's time, and the fallback answered
    assert answered_by == FALLBACK
    assert bedrock.sent == [PRIMARY, FALLBACK]
    assert [a.outcome for a in built.attempts] == ["timeout", "deadline", "ok"]
    # And the invocation ended with its margin left
    assert invocation.remaining() >= POLICY.gateway.deadline_margin_seconds


def test_when_every_model_hangs_the_gateway_gives_up_before_lambda_stops_it(
    model: LocalModel, clock: Clock
) -> None:
    invocation = Invocation(clock)
    invocation.start(CLASSIFY.manifest.timeout_seconds)
    built, bedrock = gateway(model, clock, invocation, {PRIMARY, FALLBACK})
    with pytest.raises(ModelUnavailable, match="deadline"):
        ask(built)
    # Each model had its chance, each hang was one call's time, and the margin is left to fail by name
    assert bedrock.sent == [PRIMARY, FALLBACK]
    assert invocation.remaining() >= POLICY.gateway.deadline_margin_seconds
    assert len(bedrock.sent) <= worst_case(CLASSIFY.manifest, POLICY.gateway).hanging_calls_per_invocation


def test_a_call_that_cannot_fit_is_not_made(model: LocalModel, clock: Clock) -> None:
    # Given an invocation with less time left than one call takes
    invocation = Invocation(clock)
    invocation.start(ONE_CALL + POLICY.gateway.deadline_margin_seconds - 1)
    built, bedrock = gateway(model, clock, invocation, set())
    with pytest.raises(ModelUnavailable):
        ask(built)
    # Then nothing was sent: the state's Retry gets a fresh invocation instead
    assert bedrock.sent == []
    assert {a.outcome for a in built.attempts} == {"deadline"}


@pytest.mark.parametrize(
    "fault",
    ["throttle", "malformed", "hang"],
    ids=["every call throttled", "every answer malformed", "every call hangs"],
)
def test_the_worst_case_bounds_one_invocation(model: LocalModel, clock: Clock, fault: str) -> None:
    bound = worst_case(CLASSIFY.manifest, POLICY.gateway)
    invocation = Invocation(clock)
    invocation.start(CLASSIFY.manifest.timeout_seconds)
    hanging = set(ROUTE.models) if fault == "hang" else set()
    if fault != "hang":
        behaviour = Throttle() if fault == "throttle" else Malformed()
        for m in ROUTE.models:
            model.script(m, *[behaviour] * 10)
    built, bedrock = gateway(model, clock, invocation, hanging)
    started = clock.now
    with pytest.raises(ModelUnavailable):
        ask(built)
    limit = bound.hanging_calls_per_invocation if fault == "hang" else bound.calls_per_invocation
    assert 0 < len(bedrock.sent) <= limit
    assert clock.now - started <= bound.seconds_per_invocation - POLICY.gateway.deadline_margin_seconds


@pytest.mark.parametrize("name", sorted(MODEL_STATES))
def test_every_model_capability_holds_a_call_of_each_of_its_models(name: str) -> None:
    manifest = MODEL_STATES[name].manifest
    assert manifest.model is not None
    assert manifest.timeout_seconds >= minimum_function_seconds(manifest.model, POLICY.gateway)
    assert manifest.task.timeout_seconds >= manifest.timeout_seconds


def test_docs_print_the_worst_case_of_every_model_state() -> None:
    # The table in docs/capabilities.md is what worst_case computes, row by row
    text = (ROOT / "docs" / "capabilities.md").read_text(encoding="utf-8")
    text = text.split("## Deadlines", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*\|$", text, re.MULTILINE)}
    for name, info in sorted(MODEL_STATES.items()):
        expected = worst_case_row(name, info.manifest)
        assert rows.get(name) == expected, (
            f"docs/capabilities.md, section 'Deadlines': the row of {name} should read\n{expected}"
        )


def worst_case_row(name: str, manifest) -> str:  # type: ignore[no-untyped-def]
    bound = worst_case(manifest, POLICY.gateway)
    return (
        f"| `{name}` | {len(manifest.model.models)} | {manifest.timeout_seconds} s | {bound.invocations} | "
        f"{bound.calls_per_invocation} | {bound.hanging_calls_per_invocation} | {bound.calls} | "
        f"{bound.seconds:g} s |"
    )
