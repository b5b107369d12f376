"""The benchmark's moto floor answers what the real functions answer, or it measures nothing."""

from __future__ import annotations

import pytest

from aiflows_runtime.contracts import STEP_CONTRACTS
from infra.stack import CAPABILITIES

# the functions a Task state calls (the queue's worker answers a task token instead)
CALLED_BY_TASKS = sorted(f for f, spec in CAPABILITIES.items() if not spec.works_the_queue)


@pytest.mark.parametrize("function", CALLED_BY_TASKS)
def test_each_canned_answer_of_the_floor_is_a_valid_output(function: str) -> None:
    from bench.run import CANNED

    _, output = STEP_CONTRACTS[CAPABILITIES[function].capability]
    output.model_validate(CANNED[function])
