"""The bill of a run, on small definitions whose counts can be checked by hand (infra/pricing.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infra import pricing
from infra.pricing import Function, ModelRoute, Prices, Requests

ROUTE = ModelRoute("a-model", prompt_chars=400, max_tokens=300, cacheable=True)
ASK = Function("ask", memory_mb=1024, route=ROUTE)
NOTE = Function("note", memory_mb=256, puts_events=True)


def lambda_task(binding: str, **more: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": f"${{{binding}}}", "Payload.$": "$"},
        **more,
    }


def definition() -> dict[str, Any]:
    """Start -> Ask -> Both (Note | Route: Write, or Skip -> Skipped) -> Announce (2 entries) -> Done."""
    return {
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Next": "Ask"},
            "Ask": lambda_task("AskFunction", Next="Both"),
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Note", "States": {"Note": lambda_task("NoteFunction", End=True)}},
                    {
                        "StartAt": "Route",
                        "States": {
                            "Route": {
                                "Type": "Choice",
                                "Choices": [{"Variable": "$.write", "BooleanEquals": True, "Next": "Write"}],
                                "Default": "Skip",
                            },
                            "Write": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::dynamodb:putItem",
                                "End": True,
                            },
                            "Skip": {"Type": "Pass", "Next": "Skipped"},
                            "Skipped": {"Type": "Pass", "End": True},
                        },
                    },
                ],
                "Next": "Announce",
            },
            "Announce": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [{"DetailType": "one"}, {"DetailType": "two"}]},
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


MEASURED: pricing.Measured = {
    ("ask", "uncached"): Requests(reads=2, writes=3, model_calls=1),
    ("ask", "cached"): Requests(reads=1, writes=1, model_calls=0),
}


def prices(**more: Any) -> Prices:
    return Prices(
        functions={"AskFunction": ASK, "NoteFunction": NOTE},
        measured=MEASURED,
        document_chars=2000,
        cost=lambda model, tokens_in, tokens_out: tokens_in * 1e-6 + tokens_out * 2e-6,
        **more,
    )


def test_transitions_count_each_state_entered_on_the_path_branches_included() -> None:
    # Start, Ask, Both, Note, Route, Skip, Skipped, Announce, Done; or Write instead of Skip, Skipped
    assert pricing.transitions(definition()) == 9
    assert pricing.transitions(definition(), {"Route": "Write"}) == 8


def test_a_path_that_loops_is_refused() -> None:
    looping = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
    }
    with pytest.raises(ValueError, match="loops at A"):
        pricing.transitions(looping)


def test_an_uncached_run_bills_each_invocation_its_model_call_and_its_measured_requests() -> None:
    # Given the path through Write, its model step measured, its note step not
    used = pricing.bill(definition(), {"Route": "Write"}, "uncached", prices())

    # Then: two invocations; Ask holds 1 GB for its own work and one model call, Note 0.25 GB for its own
    ask_ms = pricing.STEP_MS + pricing.model_call_ms(ROUTE)
    assert used.invocations == 2
    assert used.gb_seconds == pytest.approx(1.0 * ask_ms / 1000 + 0.25 * pricing.STEP_MS / 1000)
    # the run lasts Ask, then the longer branch (Note; the DynamoDB Task takes no Lambda time)
    assert used.duration_ms == ask_ms + pricing.STEP_MS
    # Write and Ask's measured requests; Note's are not known
    assert (used.reads, used.writes) == (2, 1 + 3)
    assert used.unmeasured == {"note"}
    # two entries put by Announce, one by Note, which reaches the bus
    assert used.events == 3
    # 400 + 2,000 characters at four a token in, max_tokens out
    assert (used.input_tokens, used.output_tokens) == (600, 300)
    assert used.tokens_usd == pytest.approx(600e-6 + 300 * 2e-6)


def test_a_cached_run_asks_no_model_of_a_cacheable_route() -> None:
    used = pricing.bill(definition(), {}, "cached", prices())

    assert used.input_tokens == used.output_tokens == used.tokens_usd == 0
    assert used.gb_seconds == pytest.approx(1.0 * pricing.STEP_MS / 1000 + 0.25 * pricing.STEP_MS / 1000)
    assert (used.reads, used.writes) == (1, 1)  # the default path writes nothing itself


def test_unmeasured_model_steps_call_their_model_unless_a_cacheable_route_answers_from_cache() -> None:
    unmeasured = pricing.Prices(functions={"AskFunction": ASK}, measured={})
    fresh = Function("fresh", 512, route=ModelRoute("a-model", 0, 100, cacheable=False))

    assert pricing.model_calls(ASK, "uncached", unmeasured.measured) == 1
    assert pricing.model_calls(ASK, "cached", unmeasured.measured) == 0
    assert pricing.model_calls(fresh, "cached", {}) == 1
    assert pricing.model_calls(NOTE, "uncached", {}) == 0


def test_a_row_prices_every_line_per_thousand_runs() -> None:
    row = pricing.price(
        "probe", "write", definition(), {"Route": "Write"}, "uncached", prices(), trigger_events=1
    )

    assert row.used.events == 4  # the trigger too
    assert row.standard == pytest.approx(8 * pricing.STANDARD_PER_TRANSITION * 1000)
    seconds = (pricing.STEP_MS + pricing.model_call_ms(ROUTE) + pricing.STEP_MS) / 1000
    assert row.express == pytest.approx(pricing.express_per_thousand(seconds))
    assert row.lambda_usd == pytest.approx(
        1000 * (row.used.gb_seconds * pricing.LAMBDA_PER_GB_SECOND + 2 * pricing.LAMBDA_PER_REQUEST)
    )
    assert row.dynamodb_usd == pytest.approx(
        1000 * (2 * pricing.DYNAMODB_PER_READ_UNIT + 4 * pricing.DYNAMODB_PER_WRITE_UNIT)
    )
    assert row.events_usd == pytest.approx(4 * pricing.EVENTS_PER_ENTRY * 1000)
    assert row.tokens_usd == pytest.approx(1000 * row.used.tokens_usd)
    # a Standard flow's total counts its transitions
    assert row.total == pytest.approx(
        row.standard + row.lambda_usd + row.dynamodb_usd + row.events_usd + row.tokens_usd
    )


def test_an_express_flows_total_counts_its_express_run() -> None:
    row = pricing.price("probe", "p", definition(), {}, "cached", prices(), deployed="EXPRESS")

    assert row.express is not None
    assert row.total == pytest.approx(row.express + row.lambda_usd + row.dynamodb_usd + row.events_usd)


def test_express_bills_64_mb_at_least_in_100_ms_steps() -> None:
    assert pricing.express_per_thousand(0.1) == pricing.express_per_thousand(0.05)
    assert pricing.express_per_thousand(0.11) == pytest.approx(pricing.express_per_thousand(0.2))
    assert pricing.express_per_thousand(1.0, memory_gb=0.01) == pricing.express_per_thousand(1.0)
    one = pricing.express_per_thousand(1.0) - pricing.express_per_thousand(0.0)
    assert one == pytest.approx(1000 * pricing.EXPRESS_MIN_MEMORY_GB * pricing.EXPRESS_PER_GB_SECOND)


def test_a_task_that_waits_for_a_callback_rules_express_out_wherever_it_is() -> None:
    waiting = definition()
    waiting["States"]["Both"]["Branches"][0]["States"]["Note"]["Resource"] += ".waitForTaskToken"

    assert pricing.express_misfit(definition()) is None
    assert pricing.express_misfit(waiting) == "waits for callbacks (Note)"
    row = pricing.price("probe", "p", waiting, {}, "uncached", prices())
    assert row.express is None and row.misfit


def test_a_run_longer_than_five_minutes_does_not_fit_express() -> None:
    row = pricing.price("probe", "p", definition(), {}, "uncached", prices(), express_seconds=301)

    assert row.express is None
    assert "5 minutes" in row.misfit


def test_a_distributed_map_bills_a_transition_per_child_and_its_express_children_as_express_runs() -> None:
    # Given a Map of 10 items, each an Express child that asks (Ask), then notes (Note)
    child: dict[str, Any] = {
        "StartAt": "Ask",
        "States": {
            "Ask": lambda_task("AskFunction", Next="Note"),
            "Note": lambda_task("NoteFunction", End=True),
        },
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
    }
    batch = {
        "StartAt": "Items",
        "States": {
            "Items": {"Type": "Map", "ItemProcessor": child, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    row = pricing.price("probe", "batch", batch, {}, "uncached", prices(map_items=10))

    # Then: Items, Done and one per child; every child's steps ten times; each child an Express run
    assert row.transitions == 2 + 10
    assert row.used.invocations == 20
    assert row.used.output_tokens == 10 * ROUTE.max_tokens
    child_seconds = (pricing.STEP_MS + pricing.model_call_ms(ROUTE) + pricing.STEP_MS) / 1000
    assert row.standard == pytest.approx(
        12 * pricing.STANDARD_PER_TRANSITION * 1000 + 10 * pricing.express_per_thousand(child_seconds)
    )
    # Standard children bill their own transitions instead
    child["ProcessorConfig"]["ExecutionType"] = "STANDARD"
    assert pricing.transitions(batch, {}, items=10) == 2 + 10 * (1 + 2)


def test_a_work_queue_message_invokes_the_queues_worker() -> None:
    worker = Function("worker", 2048, route=ModelRoute("a-model", 0, 100, cacheable=False))
    send = {
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "${WorkQueue}", "MessageBody": {}},
                "End": True,
            }
        },
    }
    used = pricing.bill(send, {}, "cached", prices(queue_worker=worker))

    assert used.invocations == 1 and used.output_tokens == 100  # not cacheable: asked again
    assert worker.route is not None
    assert math.isclose(used.gb_seconds, 2.0 * (pricing.STEP_MS + pricing.model_call_ms(worker.route)) / 1000)


def test_the_shipped_flows_are_priced_on_every_path_each_way_offline() -> None:
    from aiflows.flows import flows

    rows = pricing.table(measured={})
    expected = {(f.name, p) for f in flows().values() for p in f.manifest.pricing.paths}
    assert {(r.flow, r.path) for r in rows} == expected
    assert len(rows) == 2 * len(expected)
    for row in rows:
        assert row.total > 0 and row.transitions > 0
        assert (row.express is None) == bool(row.misfit)
    # an Express flow fits Express (its definition names no callback)
    assert all(r.express is not None for r in rows if r.deployed == "EXPRESS")


def test_the_model_price_is_the_routing_policys() -> None:
    from aiflows_runtime.policies import routing_policy

    model = next(iter(routing_policy().models))
    assert pricing._model_cost(model, 1000, 1000) == routing_policy().models[model].cost(1000, 1000)
