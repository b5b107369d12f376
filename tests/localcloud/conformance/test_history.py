"""GetExecutionHistory as the API reference describes it: pages, order, tokens, execution data."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conformance.conftest import Runner

# eight Pass states: a history of 2 + 8 x 2 = 18 events
PASSES = {
    "StartAt": "P0",
    "States": {
        f"P{n}": {"Type": "Pass", "Result": {"n": n}, **({"Next": f"P{n + 1}"} if n < 7 else {"End": True})}
        for n in range(8)
    },
}


def pages(run: Runner, arn: str, **arguments: Any) -> list[list[dict[str, Any]]]:
    found, token = [], None
    while True:
        page = run.sfn.get_execution_history(
            executionArn=arn, **arguments, **({"nextToken": token} if token else {})
        )
        found.append(page["events"])
        token = page.get("nextToken")
        if not token:
            return found


def test_the_history_comes_in_pages_of_max_results_with_a_next_token(run: Runner) -> None:
    """GetExecutionHistory: maxResults per call; nextToken while there are more results (API reference)."""
    done = run(PASSES, {"x": 1})
    assert len(done.events) == 18
    split = pages(run, done.arn, maxResults=5)
    assert [len(page) for page in split] == [5, 5, 5, 3]
    assert [e["id"] for page in split for e in page] == [e["id"] for e in done.events]


def test_the_default_page_is_100_events_and_0_means_the_default(run: Runner) -> None:
    """GetExecutionHistory: "The default is 100 ... A value of 0 uses the default" (API reference)."""
    many = {
        "StartAt": "P0",
        "States": {
            f"P{n}": {"Type": "Pass", **({"Next": f"P{n + 1}"} if n < 59 else {"End": True})}
            for n in range(60)
        },
    }
    done = run(many)
    assert len(done.events) == 122
    assert [len(page) for page in pages(run, done.arn)] == [100, 22]
    assert [len(page) for page in pages(run, done.arn, maxResults=0)] == [100, 22]


def test_reverse_order_lists_the_latest_events_first(run: Runner) -> None:
    """GetExecutionHistory: "Use the reverseOrder parameter to get the latest events first" (API ref)."""
    done = run(PASSES)
    newest_first = [e for page in pages(run, done.arn, maxResults=4, reverseOrder=True) for e in page]
    assert [e["id"] for e in newest_first] == [e["id"] for e in reversed(done.events)]
    assert newest_first[0]["type"] == "ExecutionSucceeded"


def test_without_execution_data_no_event_carries_an_input_or_an_output(run: Runner) -> None:
    """GetExecutionHistory: includeExecutionData selects whether input or output is returned (API ref)."""
    done = run(PASSES, {"secret": "s"})
    [bare] = pages(run, done.arn, maxResults=1000, includeExecutionData=False)
    for event in bare:
        for key, details in event.items():
            if key.endswith("EventDetails"):
                assert not {"input", "output"} & set(details), event
    assert any("input" in e.get("executionStartedEventDetails", {}) for e in done.events)


@pytest.mark.parametrize("arguments", [{"nextToken": "not-a-token"}, {"maxResults": 1001}])
def test_a_token_it_never_gave_or_a_page_over_1000_is_refused(run: Runner, arguments: dict[str, Any]) -> None:
    """GetExecutionHistory: an unknown token is InvalidToken; maxResults is at most 1000 (API ref)."""
    done = run(PASSES)
    with pytest.raises(ClientError) as refused:
        run.sfn.get_execution_history(executionArn=done.arn, **arguments)
    expected = "InvalidToken" if "nextToken" in arguments else "ValidationException"
    assert refused.value.response["Error"]["Code"] == expected
