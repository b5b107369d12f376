"""A trace you can read: the run's states, their durations and retries, the functions they
called, the model calls with their tokens and cost, and the wait for review.

Reads X-Ray through boto3 (``get_trace_summaries`` with a filter expression, then
``batch_get_traces`` of the traces it names), the same way against the local cloud and AWS,
and renders a text timeline and an HTML one.
"""

from __future__ import annotations

import datetime
import html
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

FLOW = "AWS::StepFunctions::StateMachine"
FUNCTION = "AWS::Lambda::Function"


@dataclass
class ModelCall:
    capability: str
    model_id: str
    prompt_version: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cache_hit: bool


@dataclass
class Row:
    name: str
    kind: str  # state type, or "function"
    start: float
    end: float
    depth: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Timeline:
    trace_id: str
    flow: str
    status: str
    start: float
    end: float
    rows: list[Row]
    model_calls: list[ModelCall]

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.model_calls)


def find_trace(xray: Any, target: str, hours: float = 24.0) -> tuple[str, list[dict[str, Any]]]:
    """The trace of an execution (its ARN) or of a run (its correlation id), and its segment documents.

    X-Ray finds the candidates (``get_trace_summaries`` with a filter expression): a run's trace by
    the annotation every handler sets (``annotation.correlation_id``); an execution's among the
    traces its state machine's service is in, by the ARN its segment carries. Only those are read.
    """
    now = datetime.datetime.now(datetime.UTC)
    window = {
        "StartTime": now - datetime.timedelta(hours=hours),
        "EndTime": now + datetime.timedelta(minutes=5),
    }
    expression = filter_expression(target)
    ids: list[str] = []
    for page in xray.get_paginator("get_trace_summaries").paginate(**window, FilterExpression=expression):
        ids.extend(s["Id"] for s in page["TraceSummaries"])
    for start in range(0, len(ids), 5):  # BatchGetTraces takes at most 5 trace ids
        for trace in xray.batch_get_traces(TraceIds=ids[start : start + 5])["Traces"]:
            documents = [json.loads(s["Document"]) for s in trace["Segments"]]
            if any(_matches(d, target) for d in entities(documents)):
                return trace["Id"], documents
    raise LookupError(f"no trace of {target} in the last {hours:g} hours")


def filter_expression(target: str) -> str:
    """The X-Ray filter expression that finds the traces of an execution ARN or a correlation id."""
    if '"' in target:
        raise LookupError(f"{target!r} is neither an execution ARN nor a correlation id")
    parts = target.split(":")
    if target.startswith("arn:") and len(parts) >= 8 and parts[5] in ("execution", "express"):
        # arn:<partition>:states:<region>:<account>:execution|express:<state machine>:<name>[:<id>]
        return f'service(id(name: "{parts[6]}", type: "{FLOW}"))'
    return f'annotation.correlation_id = "{target}"'


def entities(documents: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every segment of a trace and every subsegment nested in it (X-Ray nests them), depth first."""
    for document in documents:
        yield document
        yield from entities(document.get("subsegments") or [])


def _matches(document: dict[str, Any], target: str) -> bool:
    if document.get("aws", {}).get("execution_arn") == target:
        return True
    return (document.get("annotations") or {}).get("correlation_id") == target


def timeline(trace_id: str, documents: list[dict[str, Any]]) -> Timeline:
    flows = [d for d in documents if d.get("origin") == FLOW]
    if not flows:
        raise LookupError(f"trace {trace_id} has no flow segment (yet)")
    flow = flows[0]
    functions_by_parent: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        if document.get("origin") == FUNCTION:
            functions_by_parent.setdefault(document.get("parent_id", ""), []).append(document)
    rows: list[Row] = []
    for state in flow.get("subsegments", []):
        meta = state.get("metadata", {})
        notes = []
        if meta.get("attempts", 0) > 1:
            notes.append(f"{meta['attempts']} attempts")
        if meta.get("errors"):
            notes.append("errors: " + ", ".join(meta["errors"]))
        rows.append(
            Row(
                state["name"],
                state.get("annotations", {}).get("state_type", ""),
                state["start_time"],
                state["end_time"],
                0,
                notes,
            )
        )
        for function in functions_by_parent.get(state["id"], []):
            fn_notes = ["cold start"] if function.get("annotations", {}).get("cold_start") else []
            if function.get("fault"):
                fn_notes.append("failed")
            rows.append(
                Row(function["name"], "function", function["start_time"], function["end_time"], 1, fn_notes)
            )
    calls = []
    for document in entities(documents):  # the handlers' subsegments, in their function segments
        annotations = document.get("annotations", {})
        if document.get("name") != "## lambda_handler" or "model_id" not in annotations:
            continue
        namespaces: list[dict[str, Any]] = list(document.get("metadata", {}).values())
        metadata = (namespaces[0] if namespaces else {}).get("model_call", {})
        calls.append(
            ModelCall(
                capability=annotations.get("capability", ""),
                model_id=annotations["model_id"],
                prompt_version=annotations.get("prompt_version", ""),
                input_tokens=int(metadata.get("input_tokens", 0)),
                output_tokens=int(metadata.get("output_tokens", 0)),
                cost_usd=float(metadata.get("cost_usd", 0.0)),
                cache_hit=bool(metadata.get("cache_hit", False)),
            )
        )
    return Timeline(
        trace_id=trace_id,
        flow=flow["name"],
        status=flow.get("annotations", {}).get("status", ""),
        start=flow["start_time"],
        end=flow["end_time"],
        rows=rows,
        model_calls=calls,
    )


def render_text(view: Timeline) -> str:
    total = (view.end - view.start) * 1000
    lines = [f"Trace {view.trace_id}  {view.flow}: {view.status} in {total:,.0f} ms", ""]
    width = max([len(r.name) + 2 * r.depth for r in view.rows] + [5])
    lines.append(f"  {'step':<{width}}  {'start':>9}  {'duration':>10}  notes")
    for row in view.rows:
        name = "  " * row.depth + row.name
        start = (row.start - view.start) * 1000
        duration = (row.end - row.start) * 1000
        lines.append(f"  {name:<{width}}  {start:>7,.0f}ms  {duration:>8,.0f}ms  {'; '.join(row.notes)}")
    if view.model_calls:
        lines += ["", "  model calls:"]
        for call in view.model_calls:
            cached = " (cache hit)" if call.cache_hit else ""
            lines.append(
                f"    {call.capability:<10} {call.model_id:<42} {call.prompt_version:<14} "
                f"{call.input_tokens:>6} in {call.output_tokens:>5} out  ${call.cost_usd:.6f}{cached}"
            )
        lines.append(f"    {'total':<10} {'':<42} {'':<14} {'':>20}  ${view.cost_usd:.6f}")
    return "\n".join(lines)


STYLE = " ".join(
    [
        "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2330}",
        ".row{display:flex;align-items:center;gap:.5rem;height:1.4rem}",
        ".name{width:22rem;overflow:hidden;white-space:nowrap}",
        ".depth1 .name{padding-left:1.5rem;color:#5b6475}",
        ".track{position:relative;flex:1;height:.9rem;background:#f1f3f6}",
        ".bar{position:absolute;top:0;bottom:0;background:#2f6fed}",
        ".bar.function{background:#7aa5f8} .bar.Parallel{background:#9b59b6}",
        ".bar.Choice,.bar.Pass{background:#98a2b3}",
        ".ms{width:6rem;text-align:right;font-variant-numeric:tabular-nums}",
        "table{border-collapse:collapse;margin-top:1rem}",
        "td,th{padding:.2rem .6rem;border-bottom:1px solid #eef0f3}",
    ]
)


def render_html(view: Timeline) -> str:
    span = max(view.end - view.start, 1e-6)
    bars = []
    for row in view.rows:
        left = (row.start - view.start) / span * 100
        width = max((row.end - row.start) / span * 100, 0.3)
        label = html.escape(row.name)
        title = html.escape(f"{row.name}: {(row.end - row.start) * 1000:,.0f} ms {'; '.join(row.notes)}")
        bars.append(
            f'<div class="row depth{row.depth}"><span class="name">{label}</span>'
            f'<span class="track"><span class="bar {html.escape(row.kind)}" title="{title}" '
            f'style="left:{left:.3f}%;width:{width:.3f}%"></span></span>'
            f'<span class="ms">{(row.end - row.start) * 1000:,.0f} ms</span></div>'
        )
    calls = "".join(
        f"<tr><td>{html.escape(c.capability)}</td><td>{html.escape(c.model_id)}</td>"
        f"<td>{html.escape(c.prompt_version)}</td><td>{c.input_tokens}</td><td>{c.output_tokens}</td>"
        f"<td>${c.cost_usd:.6f}</td></tr>"
        for c in view.model_calls
    )
    head = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Trace {html.escape(view.trace_id)}</title><style>{STYLE}</style></head><body>"
    )
    title = (
        f"{html.escape(view.flow)}: {html.escape(view.status)} in {(view.end - view.start) * 1000:,.0f} ms"
    )
    table = (
        "<table><thead><tr><th>capability</th><th>model</th><th>prompt</th>"
        f"<th>in</th><th>out</th><th>cost</th></tr></thead><tbody>{calls}</tbody></table>"
    )
    return (
        f"{head}<h1>{title}</h1><p>trace {html.escape(view.trace_id)}</p>{''.join(bars)}{table}"
        f"<p>model cost of the run: ${view.cost_usd:.6f}</p></body></html>"
    )
