"""What a flow costs to orchestrate, per 1,000 runs, computed from its definition.

Standard workflows bill each state transition; Express workflows bill each request
and the duration, by the GB-second of memory (billed at 64 MB at least, in 100 ms
increments). The prices are us-east-1 list prices (November 2026); Lambda, Bedrock
and the rest of a run are billed on top, and the model cost of a run is in its
ledger.

    .venv/bin/python -m infra.pricing      prints the table that docs/flows.md quotes
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATEMACHINES = Path(__file__).resolve().parents[1] / "statemachines"

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


INTAKE_PATHS: dict[str, dict[str, str]] = {
    "acts alone": {"Decide": "Act"},
    "human review, approved": {"Decide": "Review"},
    "human review, rejected": {"Decide": "Review", "ReviewDecision": "PublishRejected"},
    "long document (SQS worker), acts alone": {"Decide": "Act", "SummaryRoute": "LongRunningSummary"},
}
EXPRESS_SECONDS = 2.0  # classify and extract side by side, as the local cloud runs them


def table() -> list[Row]:
    intake = json.loads((STATEMACHINES / "document_intake.asl.json").read_text())
    sync = json.loads((STATEMACHINES / "classify_extract.asl.json").read_text())
    rows = [
        Row("document_intake", path, n, standard_per_thousand(intake, c), float("nan"))
        for path, c in INTAKE_PATHS.items()
        for n in [transitions(intake, c)]
    ]
    n = transitions(sync)
    rows.append(
        Row(
            "classify_extract",
            f"{EXPRESS_SECONDS:.0f} s",
            n,
            standard_per_thousand(sync),
            express_per_thousand(EXPRESS_SECONDS),
        )
    )
    return rows


def render() -> str:
    lines = [
        "| flow | path | state transitions | Standard, per 1,000 runs | Express, per 1,000 runs |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in table():
        express = (
            "n/a (waits for people: Standard only)" if math.isnan(row.express) else f"${row.express:.4f}"
        )
        lines.append(f"| {row.flow} | {row.path} | {row.transitions} | ${row.standard:.4f} | {express} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
