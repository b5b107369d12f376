"""Models that hang past their read timeout: the gateway's deadlines leave the fallback its call.

On real time (the gateway's timeouts are real seconds: a hang costs its whole read timeout).
"""

from __future__ import annotations

from typing import Any

from aiflows.traffic import Traffic as Chaos
from aiflows.traffic import batch
from aiflows_runtime.policies import routing_policy
from tests.chaos.conftest import check

LOCAL_CLOUD = {"time_scale": 1.0}
FALLBACK_ONLY = "anthropic.claude-3-5-haiku-20241022-v1:0"


def test_flows_survive_models_that_hang(chaos: Chaos, bus_events: list[dict[str, Any]]) -> None:
    # Given every primary model hanging on half its calls
    chaos.cloud.faults.seed(11)
    for model in sorted(set(routing_policy().models) - {FALLBACK_ONLY}):
        chaos.cloud.faults.add("model.hang", rate=0.5, target=model)
    names = (("document_intake", "clear"), ("ticket_triage", "outage"), ("ticket_triage", "sample"))
    runs = chaos.start(batch("hang", names=names))
    # When the runs go on
    chaos.wait(runs, timeout=300)
    chaos.cloud.faults.disarm()
    # Then every invariant holds: the hangs cost time, never a run
    summary = check(chaos, runs, bus_events, "models that hang")
    assert summary["injected"].get("model.hang", 0) > 0
    assert summary["ended"] == {"SUCCEEDED": len(runs)}
