"""The benchmark's moto floor answers what the real functions answer, or it measures nothing."""

from __future__ import annotations

import pytest

from aiflows.registry import CapabilityInfo, capabilities

# the functions a Task state calls (the queue's worker answers a task token instead)
CALLED_BY_TASKS = sorted(
    (info for info in capabilities().values() if not info.manifest.reaches.work_queue),
    key=lambda info: info.name,
)


@pytest.mark.parametrize("capability", CALLED_BY_TASKS, ids=lambda info: info.name)
def test_each_canned_answer_of_the_floor_is_a_valid_output(capability: CapabilityInfo) -> None:
    from bench.run import canned

    capability.output_model.model_validate(canned(capability.binding))


def test_the_benchmarks_sample_event_is_a_flows_sample() -> None:
    from bench.run import EVENT, _sample_event

    assert EVENT.is_file()
    event = _sample_event()
    assert isinstance(event["detail"], dict) and event["detail-type"] and event["source"]


def test_the_request_bench_measures_every_model_caller_a_task_calls() -> None:
    from bench.requests import model_capabilities

    expected = {info.name for info in CALLED_BY_TASKS if info.manifest.model is not None}
    assert {info.name for info in model_capabilities()} == expected
    assert expected  # classify, extract, summarize, triage
