"""The chaos suite: batches of flows under injected faults, the invariants checked after each.

The traffic and the invariants are :mod:`aiflows.traffic` (the load benchmark uses the
same); here, the fixture and what each scenario survived, printed at the end of the
session (``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aiflows import traffic
from localcloud import Deployment, LocalCloud

SURVIVED: list[dict[str, Any]] = []  # one line per scenario


def check(
    chaos: traffic.Traffic, runs: list[traffic.Run], bus: list[dict[str, Any]], scenario: str
) -> dict[str, Any]:
    """The invariants over the scenario's runs, and its line in the summary."""
    summary = traffic.check(chaos, runs, bus, scenario)
    SURVIVED.append(summary)
    return summary


@pytest.fixture
def chaos(cloud: LocalCloud, app: Deployment) -> Iterator[traffic.Traffic]:
    cloud.faults.clear()
    yield traffic.Traffic(cloud, app)
    cloud.faults.clear()


def summary_lines() -> list[str]:
    """One line per scenario: what was injected, how the runs ended."""
    return [
        f"{line['scenario']}: {line['runs']} runs, injected {line['injected']}, "
        f"ended {line['ended']}, {line['resumed']} resumed after parking, "
        f"{line['paid_calls']} paid model calls, every invariant held"
        for line in sorted(SURVIVED, key=lambda line: line["scenario"])
    ]
