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


def test_the_request_bench_checks_each_goal_on_what_it_counts() -> None:
    from bench.requests import IDEMPOTENCY, Row, Sent, table

    def sent(*operations: str, idempotency: int) -> list[Sent]:
        labels = [IDEMPOTENCY] * idempotency + [""] * (len(operations) - idempotency)
        return [Sent("dynamodb", op, label) for op, label in zip(operations, labels, strict=True)]

    # the uncached goal counts every DynamoDB request, idempotency's included
    uncached = Row(
        "classify", "uncached", sent("PutItem", "TransactWriteItems", "BatchGetItem", idempotency=2)
    )
    over = Row("classify", "uncached", [*uncached.every, Sent("dynamodb", "UpdateItem")])
    assert (uncached.goal, uncached.over, over.over) == ((3, "all"), False, True)
    # the cached goal counts the gateway's own: every request but idempotency's
    cached = Row("classify", "cached", sent("PutItem", "TransactWriteItems", "BatchGetItem", idempotency=2))
    assert (cached.goal, cached.own, cached.over) == ((1, "own"), 1, False)
    # a route with no answer cache has no cached goal
    asked_again = Row("summarize", "cached", uncached.every, cacheable=False)
    assert (asked_again.goal, asked_again.over) == (None, False)
    printed = table([uncached, over, cached, asked_again])
    assert "<=3 all !" in printed and "<=1 own  " in printed and "n/c" in printed
