"""Tell what an execution did: each state with its duration, the output, the logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StateRun:
    name: str
    state_type: str
    entered: datetime
    exited: datetime | None
    attempts: int
    errors: tuple[str, ...]

    @property
    def duration_ms(self) -> float | None:
        return None if self.exited is None else (self.exited - self.entered).total_seconds() * 1000


def entered_state(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> str | None:
    """The state an event belongs to: the nearest StateEntered up its previousEventId chain."""
    current = event
    for _ in range(1000):
        previous = by_id.get(current.get("previousEventId", 0))
        if previous is None:
            return None
        if previous["type"].endswith("StateEntered"):
            return str(previous["stateEnteredEventDetails"]["name"])
        current = previous
    return None


def state_runs(history: list[dict[str, Any]]) -> list[StateRun]:
    """Fold an execution history into one row per state entered, in order."""
    runs: list[dict[str, Any]] = []
    open_runs: dict[str, dict[str, Any]] = {}
    by_id = {event["id"]: event for event in history}
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            run = {
                "name": name,
                "state_type": kind.removesuffix("StateEntered"),
                "entered": event["timestamp"],
                "exited": None,
                "attempts": 0,
                "errors": [],
            }
            runs.append(run)
            open_runs[name] = run
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_runs:
                open_runs.pop(name)["exited"] = event["timestamp"]
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            owner = open_runs.get(entered_state(event, by_id) or "")
            if owner:
                owner["attempts"] += 1
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut"):
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            owner = open_runs.get(entered_state(event, by_id) or "")
            if owner:
                owner["errors"].append(details.get("error", kind))
    return [StateRun(**{**r, "errors": tuple(r["errors"])}) for r in runs]


def _ms(value: float | None) -> str:
    return "running" if value is None else f"{value:,.0f} ms"


def render_execution(execution: dict[str, Any], history: list[dict[str, Any]]) -> str:
    started: datetime = execution["startDate"]
    stopped: datetime | None = execution.get("stopDate")
    total = None if stopped is None else (stopped - started).total_seconds() * 1000
    lines = [f"Execution {execution['name']}: {execution['status']} in {_ms(total)}", ""]
    runs = state_runs(history)
    width = max([len(r.name) for r in runs] + [5])
    lines.append(f"  {'state':<{width}}  {'type':<8}  {'duration':>10}  notes")
    for run in runs:
        notes = []
        if run.attempts > 1:
            notes.append(f"{run.attempts} attempts")
        if run.errors:
            notes.append("errors: " + ", ".join(run.errors))
        lines.append(
            f"  {run.name:<{width}}  {run.state_type:<8}  {_ms(run.duration_ms):>10}  {'; '.join(notes)}"
        )
    lines.append("")
    if execution["status"] == "SUCCEEDED":
        lines.append("Output:")
        lines.append(_indent(json.dumps(json.loads(execution["output"]), indent=2)))
    else:
        lines.append(f"Error: {execution.get('error', '')}")
        cause = execution.get("cause", "")
        try:
            cause = json.dumps(json.loads(cause), indent=2)
        except (TypeError, ValueError):
            pass
        lines.append("Cause:")
        lines.append(_indent(cause))
    return "\n".join(lines)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
