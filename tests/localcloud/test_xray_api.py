"""X-Ray's GetTraceSummaries (with filter expressions) and BatchGetTraces, against a deployed app.

A run of the flow is read as the X-Ray API reference says a trace is read: its summary
("GetTraceSummaries", "TraceSummary"), found by a filter expression ("Using filter expressions",
X-Ray Developer Guide), then its documents ("BatchGetTraces", "Trace"), its subsegments nested in
their segments ("AWS X-Ray segment documents"). Traces put with PutTraceSegments check the rules
a run does not reach (in-progress documents, paging, time range types, sampling).
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aiflows import traceview
from localcloud import Deployment, LocalCloud, traces
from localcloud.__main__ import put_event_file
from localcloud.patches import xray as xray_patch

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "statemachines" / "document_intake" / "events"
FLOW = "AWS::StepFunctions::StateMachine"
FUNCTION = "AWS::Lambda::Function"


def window(hours: float = 1.0) -> dict[str, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "StartTime": now - datetime.timedelta(hours=hours),
        "EndTime": now + datetime.timedelta(hours=hours),
    }


def summaries(xray: Any, expression: str | None = None, **more: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    extra = {"FilterExpression": expression} if expression else {}
    for page in xray.get_paginator("get_trace_summaries").paginate(**window(), **extra, **more):
        found.extend(page["TraceSummaries"])
    return found


def documents(xray: Any, trace_id: str) -> list[dict[str, Any]]:
    [trace] = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
    return [json.loads(s["Document"]) for s in trace["Segments"]]


@pytest.fixture(scope="module")
def run(cloud: LocalCloud, app: Deployment) -> dict[str, Any]:
    """One finished run of the flow: its correlation id, its execution, its trace id."""
    event_id = put_event_file(cloud, app, SAMPLES / "clear.json")
    execution = cloud.wait_for_new_execution(app, set(), timeout=60)
    assert execution["status"] == "SUCCEEDED"
    cloud.flush_traces()
    return {
        "correlation_id": event_id,
        "execution": execution,
        "machine": execution["stateMachineArn"].split(":")[-1],
        "trace_id": cloud.traces.trace_id(execution["executionArn"]),
    }


@pytest.fixture
def xray(cloud: LocalCloud) -> Any:
    return cloud.client("xray")


def functions_of(app: Deployment) -> dict[str, str]:
    """Capability name (Validate, Classify...) -> its function's name."""
    return {k.removesuffix("FunctionName"): v for k, v in app.outputs.items() if k.endswith("FunctionName")}


def test_an_annotation_filter_finds_exactly_the_runs_trace_with_its_services_and_annotations(
    xray: Any, cloud: LocalCloud, app: Deployment, run: dict[str, Any]
) -> None:
    """GetTraceSummaries: "annotation.account = "12345"" finds the traces with that annotation;
    TraceSummary: Annotations (key -> ValueWithServiceIds), ServiceIds, EntryPoint ("The root of a
    trace"), ResponseTime (the root segment's), Duration (earliest start to last end)."""
    # When the run's trace is asked for by the annotation every handler sets
    [summary] = summaries(xray, f'annotation.correlation_id = "{run["correlation_id"]}"')
    # Then it is the run's trace, entered by the state machine
    assert summary["Id"] == run["trace_id"]
    assert summary["EntryPoint"]["Name"] == run["machine"] and summary["EntryPoint"]["Type"] == FLOW
    # And its services are the state machine and each function the run invoked
    services = {(s["Name"], s.get("Type")) for s in summary["ServiceIds"]}
    functions = functions_of(app)
    invoked = ("Validate", "Guard", "Classify", "Extract", "Summarize", "Retrieve", "Act")
    assert services == {(run["machine"], FLOW)} | {(functions[name], FUNCTION) for name in invoked}
    assert all(s["Names"] == [s["Name"]] and s["AccountId"] == cloud.account for s in summary["ServiceIds"])
    # And the annotations name their values and the services that set them
    annotations = summary["Annotations"]
    [correlation] = annotations["correlation_id"]
    assert correlation["AnnotationValue"] == {"StringValue": run["correlation_id"]}
    assert {s["Name"] for s in correlation["ServiceIds"]} == {functions[name] for name in invoked}
    capabilities = {v["AnnotationValue"]["StringValue"] for v in annotations["capability"]}
    assert capabilities == {name.lower() for name in invoked}
    [classify] = [v for v in annotations["capability"] if v["AnnotationValue"]["StringValue"] == "classify"]
    assert [s["Name"] for s in classify["ServiceIds"]] == [functions["Classify"]]
    assert {"BooleanValue": True} in [v["AnnotationValue"] for v in annotations["cold_start"]]
    # And the times are the root segment's and the whole trace's
    assert 0 < summary["ResponseTime"] <= summary["Duration"] + 1e-6
    assert summary["HasFault"] is False and summary["HasError"] is False and summary["IsPartial"] is False
    assert summary["StartTime"] <= run["execution"]["startDate"] + datetime.timedelta(seconds=1)
    assert {"ARN": run["execution"]["stateMachineArn"]} in summary["ResourceARNs"]
    # And two annotations narrow it as one does
    both = f'annotation.correlation_id = "{run["correlation_id"]}" AND annotation.capability = "classify"'
    assert [s["Id"] for s in summaries(xray, both)] == [run["trace_id"]]


def test_service_edge_and_keyword_filters_find_the_run_or_nothing(
    xray: Any, app: Deployment, run: dict[str, Any]
) -> None:
    """Using filter expressions: service(), id(name:, type:), edge(), fault, duration, !; a filter no
    trace matches returns none, and TracesProcessedCount still counts the traces it looked at
    ("including traces that did not match the specified filter expression")."""
    functions = functions_of(app)
    machine = f'id(name: "{run["machine"]}", type: "{FLOW}")'
    classify = f'id(name: "{functions["Classify"]}", type: "{FUNCTION}")'
    found = {
        expression: run["trace_id"] in {s["Id"] for s in summaries(xray, expression)}
        for expression in (
            f"service({machine})",
            f"service({classify}) {{ !fault }}",
            f"service({classify}) {{ fault }}",
            f'service(id(name: "{functions["Classify"]}", type: "AWS::Lambda"))',
            f"edge({machine}, {classify})",
            f"edge({classify}, {machine})",
            "!fault AND duration > 0 AND !partial",
            "fault OR partial",
            f'service("{run["machine"]}") {{ root = true }}',
            f'service("{functions["Classify"]}") {{ root = true }}',
        )
    }
    assert found == {
        f"service({machine})": True,
        f"service({classify}) {{ !fault }}": True,
        f"service({classify}) {{ fault }}": False,
        f'service(id(name: "{functions["Classify"]}", type: "AWS::Lambda"))': False,
        f"edge({machine}, {classify})": True,
        f"edge({classify}, {machine})": False,
        "!fault AND duration > 0 AND !partial": True,
        "fault OR partial": False,
        f'service("{run["machine"]}") {{ root = true }}': True,
        f'service("{functions["Classify"]}") {{ root = true }}': False,
    }
    # And a filter no trace matches returns none, having looked at them all
    page = xray.get_trace_summaries(**window(), FilterExpression='annotation.correlation_id = "no-such-run"')
    assert page["TraceSummaries"] == [] and page["TracesProcessedCount"] >= 1


def test_an_expression_that_does_not_parse_answers_invalid_request_naming_the_place(xray: Any) -> None:
    """GetTraceSummaries' errors: InvalidRequestException, "The request is missing required
    parameters or has invalid parameters" (HTTP 400) — never moto's "Not implemented yet" (500)."""
    with pytest.raises(ClientError) as raised:
        xray.get_trace_summaries(**window(), FilterExpression='annotation.correlation_id = "x" AND')
    error = raised.value.response
    assert error["Error"]["Code"] == "InvalidRequestException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "at position 36" in error["Error"]["Message"] and "expected a keyword" in error["Error"]["Message"]
    # Root causes are X-Ray syntax the local cloud does not model: NotImplemented, not a parse error
    with pytest.raises(ClientError) as raised:
        xray.get_trace_summaries(**window(), FilterExpression='rootcause.fault.service { name = "Auth" }')
    assert raised.value.response["Error"]["Code"] == "NotImplemented"


def test_batch_get_traces_nests_each_subsegment_in_its_segment(xray: Any, run: dict[str, Any]) -> None:
    """AWS X-Ray segment documents: "An independent subsegment has a type of subsegment, a trace_id,
    and a parent_id"; X-Ray compiles them into the trace. BatchGetTraces (Trace): one document per
    segment, Duration "between the start time of the earliest segment that started and the end
    time of the last segment that completed", LimitExceeded."""
    [trace] = xray.batch_get_traces(TraceIds=[run["trace_id"]])["Traces"]
    loaded = [json.loads(s["Document"]) for s in trace["Segments"]]
    # Then every document is a segment, with the id it is listed under
    assert [s["Id"] for s in trace["Segments"]] == [d["id"] for d in loaded]
    assert not [d for d in loaded if d.get("type") == "subsegment"]
    # And each function segment holds its handler's subsegments, and those the SDK calls in them
    functions = [d for d in loaded if d.get("origin") == FUNCTION]
    handlers = [s for d in functions for s in d.get("subsegments", []) if s["name"] == "## lambda_handler"]
    assert len(handlers) >= 7
    assert all(h["annotations"]["correlation_id"] == run["correlation_id"] for h in handlers)
    calls = [
        c
        for h in handlers
        for c in traceview.entities(h.get("subsegments", []))
        if c.get("namespace") == "aws"
    ]
    assert {c["name"] for c in calls} >= {"dynamodb", "bedrock-runtime"}
    # And a nested subsegment carries none of what only a separately sent one needs
    nested = [e for d in functions for e in traceview.entities(d.get("subsegments", []))]
    assert nested and not [e for e in nested if {"type", "trace_id", "parent_id"} & set(e)]
    # And the trace's duration is its segments' span, in seconds (not rounded)
    starts, ends = [d["start_time"] for d in loaded], [d["end_time"] for d in loaded]
    assert trace["Duration"] == pytest.approx(max(ends) - min(starts))
    assert trace["LimitExceeded"] is False


def test_the_trace_view_reads_only_the_runs_trace(cloud: LocalCloud, run: dict[str, Any]) -> None:
    """The trace view asks X-Ray for the run's trace with a filter expression (GetTraceSummaries),
    then reads that one trace (BatchGetTraces), by correlation id or by execution ARN."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    xray = cloud.client("xray")
    xray.meta.events.register("provide-client-params.xray.*", record)
    for target in (run["correlation_id"], run["execution"]["executionArn"]):
        calls.clear()
        trace_id, found = traceview.find_trace(xray, target)
        assert trace_id == run["trace_id"]
        assert traceview.timeline(trace_id, found).status == "SUCCEEDED"
        summaries_asked = [p for name, p in calls if name == "GetTraceSummaries"]
        assert summaries_asked and all("FilterExpression" in p for p in summaries_asked)
        if target == run["correlation_id"]:
            assert [p["TraceIds"] for name, p in calls if name == "BatchGetTraces"] == [[run["trace_id"]]]


# --- traces put through PutTraceSegments -----------------------------------------------------------


def put(xray: Any, *documents: dict[str, Any]) -> None:
    answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in documents])
    assert answer["UnprocessedTraceSegments"] == []


def segment(
    trace_id: str, name: str, id_: str, start: float, end: float | None = None, **more: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "id": id_, "trace_id": trace_id, "start_time": start, **more}
    if end is None:
        found["in_progress"] = True
    else:
        found["end_time"] = end
    return found


def test_separately_sent_subsegments_nest_and_a_complete_document_overwrites_the_in_progress_one(
    xray: Any,
) -> None:
    """AWS X-Ray segment documents: "send an in-progress segment ... then send subsegments separately
    ... When the request is complete, close the segment by resending it with an end_time. The
    complete segment overwrites the in-progress segment"; "a subsegment can have a segment or a
    subsegment as its parent". TraceSummary: IsPartial ("One or more of the segment documents is in
    progress"), Http, Users."""
    now = time.time()
    trace_id = traces.new_trace_id(now)
    http = {
        "request": {"method": "POST", "url": "https://www.example.com/api/user"},
        "response": {"status": 200},
    }
    # Given an in-progress segment, a subsegment sent separately, and one of its own subsegments
    put(xray, segment(trace_id, "www.example.com", "70de5b6f19ff9a0b", now))
    put(
        xray,
        segment(
            trace_id,
            "api.example.com",
            "53995c3f42cd8ad8",
            now + 0.1,
            now + 0.3,
            type="subsegment",
            parent_id="70de5b6f19ff9a0b",
            namespace="remote",
            annotations={"step": "outer"},
        ),
        segment(
            trace_id,
            "inner",
            "0f910026178b71eb",
            now + 0.15,
            now + 0.2,
            type="subsegment",
            parent_id="53995c3f42cd8ad8",
        ),
        segment(
            trace_id,
            "orphan",
            "1f910026178b71eb",
            now + 0.15,
            now + 0.2,
            type="subsegment",
            parent_id="ffffffffffffffff",
        ),
    )
    [partial] = summaries(xray, 'annotation.step = "outer"')
    assert partial["Id"] == trace_id and partial["IsPartial"] is True
    assert summaries(xray, 'annotation.step = "outer" AND !partial') == []
    # When the segment is sent again, complete
    put(
        xray,
        segment(trace_id, "www.example.com", "70de5b6f19ff9a0b", now, now + 0.5, http=http, user="alice"),
    )
    # Then the trace is one segment with its subsegments nested, and the orphan on its own
    compiled = documents(xray, trace_id)
    assert [d["id"] for d in compiled] == ["70de5b6f19ff9a0b", "1f910026178b71eb"]
    root, orphan = compiled
    assert "in_progress" not in root and root["end_time"] == now + 0.5
    [outer] = root["subsegments"]
    assert outer["id"] == "53995c3f42cd8ad8" and [s["id"] for s in outer["subsegments"]] == [
        "0f910026178b71eb"
    ]
    assert orphan["type"] == "subsegment" and orphan["parent_id"] == "ffffffffffffffff"
    # And its summary is complete, with the root segment's HTTP request and the user
    [summary] = summaries(xray, 'annotation.step = "outer" AND !partial')
    assert summary["ResponseTime"] == pytest.approx(0.5) and summary["Duration"] == pytest.approx(0.5)
    assert summary["Http"] == {
        "HttpURL": "https://www.example.com/api/user",
        "HttpStatus": 200,
        "HttpMethod": "POST",
    }
    assert summary["Users"] == [
        {"UserName": "alice", "ServiceIds": [{"Name": "www.example.com", "Names": ["www.example.com"]}]}
    ]
    assert summary["EntryPoint"] == {"Name": "www.example.com", "Names": ["www.example.com"]}
    for expression in (
        'user = "alice"',
        "http.status = 200 AND ok",
        'http.url CONTAINS "/api/"',
        'http.method != "GET"',
    ):
        assert trace_id in {s["Id"] for s in summaries(xray, expression)}, expression


def test_pages_run_from_the_end_of_the_time_frame_backwards(
    xray: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GetTraceSummaries' NextToken: "If the requested time frame contained more than one page of
    results, you can use this token to retrieve the next page. The first page contains the most
    recent results, closest to the end of the time frame." ApproximateTime: "The start time of
    this page of results"."""
    monkeypatch.setattr(xray_patch, "PAGE_SIZE", 2)
    now = time.time()
    ids = [traces.new_trace_id(now - 600 + 60 * i) for i in range(5)]  # oldest first
    for trace_id in ids:
        put(
            xray,
            segment(
                trace_id, "pager", traces.new_segment_id(), now, now + 1, annotations={"batch": "paging"}
            ),
        )
    pages = list(
        xray.get_paginator("get_trace_summaries").paginate(
            **window(), FilterExpression='annotation.batch = "paging"'
        )
    )
    found = [s["Id"] for page in pages for s in page["TraceSummaries"]]
    assert found == list(reversed(ids))  # the most recent first
    assert all("NextToken" in page for page in pages[:-1]) and "NextToken" not in pages[-1]
    times = [page["ApproximateTime"] for page in pages[:-1]]
    assert times == sorted(times, reverse=True)
    # And a token it never gave is an invalid request
    with pytest.raises(ClientError, match="InvalidRequestException"):
        xray.get_trace_summaries(**window(), NextToken="not-a-token")


def test_the_time_range_type_picks_the_time_a_trace_is_found_by(xray: Any) -> None:
    """GetTraceSummaries' TimeRangeType: "Query trace summaries by TraceId (trace start time), Event
    (trace update time), or Service (trace segment end time)"; the trace id holds "The time of the
    original request, in Unix epoch time" (AWS X-Ray segment documents)."""
    now = time.time()
    trace_id = traces.new_trace_id(now - 3 * 3600)  # a request that started three hours ago
    put(
        xray,
        segment(trace_id, "late", traces.new_segment_id(), now - 60, now - 30, annotations={"batch": "late"}),
    )
    found = {
        kind: trace_id in {s["Id"] for s in summaries(xray, 'annotation.batch = "late"', TimeRangeType=kind)}
        for kind in ("TraceId", "Event", "Service")
    }
    assert found == {"TraceId": False, "Event": True, "Service": True}
    assert trace_id not in {
        s["Id"] for s in summaries(xray, 'annotation.batch = "late"')
    }  # TraceId when none is given


def test_sampling_keeps_the_strategys_fraction_of_the_traces(xray: Any) -> None:
    """GetTraceSummaries' Sampling: "Set to true to get summaries for only a subset of available
    traces"; SamplingStrategy (Name FixedRate, Value)."""
    now = time.time()
    ids = {traces.new_trace_id(now) for _ in range(20)}
    for trace_id in ids:
        put(
            xray,
            segment(
                trace_id, "sampled", traces.new_segment_id(), now, now + 1, annotations={"batch": "sampled"}
            ),
        )
    expression = 'annotation.batch = "sampled"'

    def sampled(rate: float) -> set[str]:
        strategy = {"Sampling": True, "SamplingStrategy": {"Name": "FixedRate", "Value": rate}}
        return {s["Id"] for s in summaries(xray, expression, **strategy)}

    assert {s["Id"] for s in summaries(xray, expression)} == ids
    assert sampled(1.0) == ids and sampled(0.0) == set()
    assert sampled(0.5) < ids and sampled(0.5) == sampled(0.5)  # the same subset each time


def test_batch_get_traces_takes_at_most_five_ids_and_lists_the_unknown_ones(
    xray: Any, run: dict[str, Any]
) -> None:
    """BatchGetTraces' TraceIds: "Array Members: Minimum number of 1 item. Maximum number of 5
    items"; UnprocessedTraceIds: "Trace IDs of requests that haven't been processed"."""
    unknown = traces.new_trace_id()
    answer = xray.batch_get_traces(TraceIds=[run["trace_id"], unknown])
    assert [t["Id"] for t in answer["Traces"]] == [run["trace_id"]]
    assert answer["UnprocessedTraceIds"] == [unknown]
    with pytest.raises(ClientError, match="InvalidRequestException"):
        xray.batch_get_traces(TraceIds=[traces.new_trace_id() for _ in range(6)])
