"""Quotas on payloads and names.

Sources: the developer guide pages "Step Functions service quotas" (256 KiB for the input
or output of a task, a state or an execution) and "Handling errors" (States.DataLimitExceeded),
the API reference of StartExecution (input at most 262144 bytes, name 1 to 80 characters)
and the ASL spec (state names of at most 80 characters).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conformance.conftest import PASS, Case, Runner, branch, cases, check, single

LIMIT = 262_144  # 256 KiB, in bytes of UTF-8


def text(size: int) -> str:
    return "x" * size


CASES = cases(
    Case(
        "A Pass whose Result makes the state output exceed 256 KiB: "
        "States.DataLimitExceeded (error page, quotas)",
        single({"Type": "Pass", "Result": {"big": text(LIMIT)}}),
        {},
        error="States.DataLimitExceeded",
    ),
    Case(
        "A Pass whose Parameters make the state input exceed 256 KiB: States.DataLimitExceeded (error page)",
        single({"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}}),
        {"s": text(150_000)},
        error="States.DataLimitExceeded",
    ),
    Case(
        "A Map whose result exceeds 256 KiB: States.DataLimitExceeded "
        "(error page, state output over the quota)",
        single(
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemSelector": {"s.$": "$.s"},
                "ItemProcessor": branch(PASS),
            }
        ),
        {"xs": [1, 2], "s": text(150_000)},
        error="States.DataLimitExceeded",
    ),
    Case(
        "A state output under 256 KiB passes (service quotas: 256 KiB per state output)",
        single({"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}}),
        {"s": text(100_000)},
        {"a": text(100_000), "b": text(100_000)},
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_payload_limits(run: Runner, case: Case) -> None:
    check(run, case)


def test_an_execution_input_over_256_kib_is_refused(run: Runner) -> None:
    """StartExecution: input is at most 262144 bytes (API reference; service quotas, execution input)."""
    machine = run.create(single(PASS))
    too_big = json.dumps({"s": text(LIMIT)})
    assert len(too_big.encode()) > LIMIT
    with pytest.raises(ClientError):
        run.start(machine, raw=too_big)


def test_an_execution_input_under_256_kib_is_accepted(run: Runner) -> None:
    """StartExecution: an input under 262144 bytes runs (API reference, StartExecution input)."""
    result = run(single(PASS), {"s": text(200_000)})
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output == {"s": text(200_000)}


def test_an_execution_name_over_80_characters_is_refused(run: Runner) -> None:
    """StartExecution: name is 1 to 80 characters (API reference, StartExecution name)."""
    machine = run.create(single(PASS))
    with pytest.raises(ClientError):
        run.start(machine, {}, name="n" * 81)


def test_a_state_name_over_80_characters_is_refused(run: Runner) -> None:
    """A state name's length MUST be less than or equal to 80 Unicode characters (ASL spec, States)."""
    name = "s" * 81
    with pytest.raises(ClientError):
        run.create({"StartAt": name, "States": {name: {"Type": "Succeed"}}})
