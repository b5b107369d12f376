"""Flows under faults: each scenario runs a batch of flows with faults armed, then checks the invariants.

Every scenario is seeded: the same seed and the same traffic draw the same faults.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiflows.traffic import Traffic as Chaos
from aiflows.traffic import batch
from aiflows_runtime.policies import routing_policy
from aiflows_runtime.state import CircuitBreaker, DynamoDBBreakerStore
from tests.chaos.conftest import check

# Retry intervals compressed a hundredfold; a Task's timeout never under 20 s of real time, so
# that the crashed environments' cold starts on two cores are not mistaken for hangs.
LOCAL_CLOUD = {"time_scale": 0.01, "timeout_floor": 20.0}
PRIMARIES = sorted({m for m in routing_policy().models if m != "anthropic.claude-3-5-haiku-20241022-v1:0"})

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "model throttling storm": [{"kind": "model.throttle", "rate": 0.6}],
    "malformed answers": [{"kind": "model.malformed", "rate": 0.4}],
    "lambda crash mid-invocation": [{"kind": "lambda.crash", "rate": 0.25}],
    "worker crash": [{"kind": "lambda.crash", "rate": 0.6, "target": "Worker"}],
    "sqs redelivery": [{"kind": "sqs.redeliver", "rate": 1.0}],
    "dynamodb throttling": [{"kind": "dynamodb.throttle", "rate": 0.15}],
    "dynamodb transaction conflicts": [{"kind": "dynamodb.conflict", "rate": 0.5}],
    "s3 errors": [{"kind": "s3.error", "rate": 0.3}],
    "putevents partial failures": [{"kind": "events.put_partial", "rate": 0.4}],
    "eventbridge delivers twice": [{"kind": "events.duplicate", "rate": 1.0}],
}
LONG = {"worker crash": 3, "sqs redelivery": 2, "s3 errors": 2}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_flows_survive(chaos: Chaos, bus_events: list[dict[str, Any]], scenario: str) -> None:
    # Given faults armed, seeded
    chaos.cloud.faults.seed(sum(map(ord, scenario)))
    for fault in SCENARIOS[scenario]:
        chaos.cloud.faults.add(**fault)
    # When a batch of flows runs under them
    runs = chaos.start(batch(scenario.replace(" ", "-"), long_documents=LONG.get(scenario, 0)))
    chaos.wait(runs, timeout=240)
    chaos.cloud.faults.disarm()  # the checks read the cloud without faults
    chaos.resume_parked(runs, timeout=240)  # and the runs a fault parked go on
    # Then every invariant holds, and the faults were really injected
    summary = check(chaos, runs, bus_events, scenario)
    assert sum(summary["injected"].values()) > 0, f"{scenario}: no fault was injected"


def test_flows_survive_a_breaker_that_opens_mid_run(chaos: Chaos, bus_events: list[dict[str, Any]]) -> None:
    # Given runs under way
    runs = chaos.start(batch("breaker"))
    # When every primary model's breaker opens while they run
    policy = routing_policy()
    breaker = CircuitBreaker(
        DynamoDBBreakerStore(chaos.app.outputs["StateTableName"], client=chaos.cloud.client("dynamodb")),
        policy.breaker,
    )
    for model in PRIMARIES:
        for _ in range(policy.breaker.failure_threshold):
            breaker.record_failure(model, "chaos: opened mid-run")
    chaos.wait(runs, timeout=240)
    # And, once the breakers are closed, the runs parked on an open breaker are resumed
    for model in PRIMARIES:
        breaker.close(model)
    chaos.resume_parked(runs, timeout=240)
    # Then the runs went on with their fallbacks, and every invariant holds
    summary = check(chaos, runs, bus_events, "breaker opens mid-run")
    assert summary["paid_calls"] > 0
