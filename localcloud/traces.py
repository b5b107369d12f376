"""X-Ray in the local cloud: the segments a run emits, in moto's X-Ray, linked by one trace id.

- **Handlers** emit their segments through the X-Ray SDK (behind powertools Tracer)
  to a daemon address: the local cloud listens there (UDP on 127.0.0.1) and stores
  each segment, as the X-Ray daemon forwards them to X-Ray.
- **Lambda**: each invocation gets a function segment (``AWS::Lambda::Function``),
  parented to its caller's, and the handler runs under ``_X_AMZN_TRACE_ID`` naming it.
- **Step Functions**: each execution gets a trace id when it starts; a Lambda Task
  passes the trace header to the function it invokes, parented to the state's
  subsegment; when the execution ends, its segment (``AWS::StepFunctions::StateMachine``),
  with a subsegment per state entered, is synthesized from the execution history.

So ``get_trace_summaries`` and ``batch_get_traces`` answer the same questions
locally as on AWS.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from localcloud.report import entered_state

Sink = Callable[[dict[str, Any]], None]

# The trace header of the Task state now invoking a function, set around moto's call.
current_header: contextvars.ContextVar[str] = contextvars.ContextVar("localcloud_trace_header", default="")


def new_trace_id(now: float | None = None) -> str:
    return f"1-{int(now or time.time()):08x}-{os.urandom(12).hex()}"


def new_segment_id() -> str:
    return os.urandom(8).hex()


def stable_segment_id(*parts: str) -> str:
    """The same id for the same state entry, whoever computes it (the invoke, the synthesis)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def parse_header(header: str) -> dict[str, str]:
    fields = dict(part.split("=", 1) for part in header.split(";") if "=" in part)
    return {k.strip(): v.strip() for k, v in fields.items()}


def header(trace_id: str, parent_id: str) -> str:
    return f"Root={trace_id};Parent={parent_id};Sampled=1"


class SegmentCollector:
    """A stand-in for the X-Ray daemon: UDP on 127.0.0.1, each datagram one segment."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self._stop = threading.Event()
        self.received = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="xray-daemon")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._socket.recvfrom(65535)
            except OSError:
                continue
            # '{"format": "json", "version": 1}\n{segment}'
            _, _, document = data.decode("utf-8", "replace").partition("\n")
            if document:
                self.received += 1
                try:
                    self._sink(document)
                except Exception:  # noqa: BLE001, S110 - a malformed segment is dropped, as the daemon does
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


class ExecutionTraces:
    """Trace ids of executions, and the segment of each when it ends."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._trace_ids: dict[str, str] = {}
        self._state_ids: dict[tuple[str, str], list[str]] = {}
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def trace_id(self, execution_arn: str) -> str:
        with self._lock:
            if execution_arn not in self._trace_ids:
                self._trace_ids[execution_arn] = new_trace_id()
            return self._trace_ids[execution_arn]

    def known(self) -> dict[str, str]:
        with self._lock:
            return dict(self._trace_ids)

    def task_header(self, execution_arn: str, state_name: str, entered: str) -> str:
        """The header a Task passes to the function it invokes: parent is the state's subsegment.

        The subsegment's id is kept for the synthesis, which gives it to the same entry
        of the state (its retries share it).
        """
        segment_id = stable_segment_id(execution_arn, state_name, entered)
        with self._lock:
            ids = self._state_ids.setdefault((execution_arn, state_name), [])
            if not ids or ids[-1] != segment_id:
                ids.append(segment_id)
        return header(self.trace_id(execution_arn), segment_id)

    def synthesize(self, execution: dict[str, Any], history: list[dict[str, Any]], machine_name: str) -> None:
        """The execution's segment, a subsegment per state entered, from its history."""
        arn = execution["executionArn"]
        with self._lock:
            if arn in self._done:
                return
            self._done.add(arn)
        trace_id = self.trace_id(arn)
        with self._lock:
            invoked = {key[1]: list(ids) for key, ids in self._state_ids.items() if key[0] == arn}
        subsegments: list[dict[str, Any]] = []
        open_states: dict[str, dict[str, Any]] = {}
        by_id = {event["id"]: event for event in history}
        for event in history:
            kind = event["type"]
            stamp = event["timestamp"].timestamp()
            if kind.endswith("StateEntered"):
                details = event["stateEnteredEventDetails"]
                entered = event["timestamp"].isoformat()
                ids = invoked.get(details["name"])
                subsegment = {
                    "name": details["name"],
                    "id": ids.pop(0) if ids else stable_segment_id(arn, details["name"], entered),
                    "start_time": stamp,
                    "in_progress": True,
                    "annotations": {"state_type": kind.removesuffix("StateEntered")},
                    "metadata": {"attempts": 0, "errors": []},
                }
                open_states[details["name"]] = subsegment
                subsegments.append(subsegment)
            elif kind.endswith("StateExited"):
                exited = open_states.pop(event["stateExitedEventDetails"]["name"], None)
                if exited:
                    subsegment = exited
                    subsegment["end_time"] = stamp
                    subsegment.pop("in_progress", None)
            elif kind in ("TaskScheduled", "LambdaFunctionScheduled"):
                owner = open_states.get(entered_state(event, by_id) or "")
                if owner:
                    owner["metadata"]["attempts"] += 1
            elif kind in ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut"):
                failure = next((v for k, v in event.items() if k.endswith("EventDetails")), None) or {}
                owner = open_states.get(entered_state(event, by_id) or "")
                if owner:
                    owner["metadata"]["errors"].append(failure.get("error", kind))
        end = (execution.get("stopDate") or execution["startDate"]).timestamp()
        for subsegment in subsegments:  # a state the execution left without exiting (a Fail state)
            if subsegment.pop("in_progress", None):
                subsegment["end_time"] = end
            if subsegment["metadata"]["errors"]:
                subsegment["error"] = True
        segment = {
            "name": machine_name,
            "id": stable_segment_id(arn, "execution"),
            "trace_id": trace_id,
            "start_time": execution["startDate"].timestamp(),
            "end_time": end,
            "origin": "AWS::StepFunctions::StateMachine",
            "aws": {"execution_arn": arn, "state_machine_arn": execution["stateMachineArn"]},
            "annotations": {"status": execution["status"]},
            "subsegments": subsegments,
        }
        if execution["status"] != "SUCCEEDED":
            segment["fault"] = True
            segment["cause"] = {
                "exceptions": [
                    {"message": execution.get("cause") or "", "type": execution.get("error") or ""}
                ]
            }
        self._sink(segment)


def function_segment(
    name: str,
    arn: str,
    trace_id: str,
    segment_id: str,
    parent_id: str | None,
    started: float,
    ended: float,
    cold_start: bool,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    segment: dict[str, Any] = {
        "name": name,
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": started,
        "end_time": ended,
        "origin": "AWS::Lambda::Function",
        "aws": {"function_arn": arn, "resource_names": [name]},
        "annotations": {"cold_start": cold_start},
    }
    if parent_id:
        segment["parent_id"] = parent_id
    if error:
        segment["fault"] = True
        segment["cause"] = {
            "exceptions": [
                {"type": str(error.get("errorType")), "message": str(error.get("errorMessage"))[:1000]}
            ]
        }
    return segment


def to_document(segment: dict[str, Any]) -> str:
    return json.dumps(segment, separators=(",", ":"))
