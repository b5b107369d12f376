"""Every step's input contract, fuzzed through its handler: valid inputs.

The capabilities and their contracts come from the registry (``aiflows.registry``): a
new capability folder is fuzzed without an edit here. Each handler runs in-process
against the local cloud (the state table, the bus, the corpus, the local model), once
built per case as a cold start builds it, then invoked for every example.

Properties:
- a valid input (generated from the contract's JSON schema) gets an output that satisfies
  the output contract, or a named error: a :class:`FlowError`, which the flows' Retry and
  Catch match by name, with a message;
- the review a valid request_review stores is announced once, with an event that holds to
  ``ReviewRequested``.

A broken input: test_step_refusals.py; an extreme one, or a text by reference:
test_step_extremes.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from aiflows.registry import capabilities
from aiflows_runtime.contracts import ReviewRequested
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, load_handler
from tests.fuzz.examples import FUZZ, count
from tests.fuzz.steps import Observed, answered, bus_capture, seed_batch_results, step_inputs

pytestmark = pytest.mark.usefixtures("function_env", "claim_bucket")

CAPABILITIES = capabilities()
STEPS = sorted(name for name in CAPABILITIES if name != "worker")  # the worker: test_worker_contract.py
VALID = 15  # per step (a valid example calls AWS some ten times)


@pytest.mark.parametrize("name", STEPS)
def test_a_valid_input_gets_an_output_or_a_named_error(
    name: str, cloud: LocalCloud, context: Context, claim_bucket: str
) -> None:
    info = CAPABILITIES[name]
    seed_batch_results(cloud, claim_bucket)
    handler = load_handler(name)
    observed = Observed()
    published = bus_capture(cloud, f"fuzz-{name}", ["aiflows.reviews"]) if name == "request_review" else None

    @settings(FUZZ, max_examples=VALID)
    @given(step_inputs(info))
    def check(event: dict[str, Any]) -> None:
        count(info.input_model.__name__, "valid")
        answered(handler, event, context, info.output_model, observed)

    check()
    # Then most valid inputs did the step's work: a property no input reaches proves nothing
    assert observed.outcomes["output"] >= VALID // 4, f"{name}: {dict(observed.outcomes)}"
    if published is not None:  # each review stored is announced once, and its event holds to its contract
        events = published()
        assert sorted(e["detail"]["review_id"] for e in events) == sorted(
            {o["review_id"] for o in observed.outputs}
        )
        for event in events:
            assert event["detail-type"] == "review.requested"
            ReviewRequested.model_validate(event["detail"])
