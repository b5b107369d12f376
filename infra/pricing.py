"""What a flow costs to orchestrate, per 1,000 runs, computed from its definition.

Standard workflows bill each state transition; Express workflows bill each request
and the duration, by the GB-second of memory (billed at 64 MB at least, in 100 ms
increments). The prices are us-east-1 list prices (November 2026); Lambda, Bedrock
and the rest of a run are billed on top, and the model cost of a run is in its
ledger.

    .venv/bin/python -m infra.pricing [<flow> ...]   the table each flow's README.md quotes
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiflows.flows import FlowInfo

STANDARD_PER_TRANSITION = 0.000025  # USD, $0.025 per 1,000 state transitions
EXPRESS_PER_REQUEST = 0.000001  # USD, $1.00 per million requests
EXPRESS_PER_GB_SECOND = 0.00001667  # USD, the first tier
EXPRESS_MIN_MEMORY_GB = 64 / 1024


def transitions(definition: dict[str, Any], choices: dict[str, str] | None = None) -> int:
    """States entered on one path through the definition, Parallel branches included.

    ``choices`` names the state each Choice state goes to (its Default otherwise).
    A Task that retries enters its state once: count retries as extra transitions.
    """
    choices = choices or {}
    states = definition["States"]
    count, name = 0, definition["StartAt"]
    seen: set[str] = set()
    while name:
        if name in seen:
            raise ValueError(f"the path loops at {name}")
        seen.add(name)
        state = states[name]
        count += 1
        for branch in state.get("Branches", []):
            count += transitions(branch, choices)
        if state["Type"] == "Choice":
            name = choices.get(name, state.get("Default", ""))
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = ""
        else:
            name = state["Next"]
    return count


def standard_per_thousand(definition: dict[str, Any], choices: dict[str, str] | None = None) -> float:
    return transitions(definition, choices) * STANDARD_PER_TRANSITION * 1000


def express_per_thousand(duration_seconds: float, memory_gb: float = EXPRESS_MIN_MEMORY_GB) -> float:
    billed = math.ceil(duration_seconds * 10) / 10
    return 1000 * (
        EXPRESS_PER_REQUEST + max(memory_gb, EXPRESS_MIN_MEMORY_GB) * billed * EXPRESS_PER_GB_SECOND
    )


@dataclass(frozen=True)
class Row:
    flow: str
    path: str
    transitions: int
    standard: float
    express: float


def table(priced: Iterable[FlowInfo] | None = None) -> list[Row]:
    """A row per priced path of each flow (every flow by default), on the definition that deploys."""
    from aiflows.flows import flows

    rows = []
    for flow in flows().values() if priced is None else priced:
        definition, pricing = flow.woven(), flow.manifest.pricing
        express = flow.manifest.type == "EXPRESS"
        for path, choices in pricing.paths.items():
            label = f"{path}, {pricing.express_seconds:g} s" if express else path
            rows.append(
                Row(
                    flow.name,
                    label,
                    transitions(definition, choices),
                    standard_per_thousand(definition, choices),
                    express_per_thousand(pricing.express_seconds) if express else float("nan"),
                )
            )
    return rows


def render(priced: Iterable[FlowInfo] | None = None) -> str:
    lines = [
        "| flow | path | state transitions | Standard, per 1,000 runs | Express, per 1,000 runs |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in table(priced):
        express = "n/a (a Standard flow)" if math.isnan(row.express) else f"${row.express:.4f}"
        lines.append(f"| {row.flow} | {row.path} | {row.transitions} | ${row.standard:.4f} | {express} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    from aiflows.flows import flows

    print(render([flows()[name] for name in sys.argv[1:]] or None))
