"""X-Ray in the local cloud: traces compiled from their segment documents, summarized and filtered.

moto 5.2.5 stores each segment document it is sent and hands them back as they came:

- ``BatchGetTraces`` returns an independent subsegment (``"type": "subsegment"`` with its
  ``trace_id`` and ``parent_id``, as the X-Ray SDK sends a handler's subsegments) as a document of
  its own, and durations in whole seconds. X-Ray "compiles and processes segment documents"
  ("AWS X-Ray segment documents"): here a subsegment sent separately is nested into its parent
  segment, or its parent subsegment, when the trace is read, without the fields only a separate
  one needs (``type``, ``trace_id``, ``parent_id``); a complete document overwrites the
  in-progress one with its id. Each trace is one document per segment, its ``Duration`` the
  seconds between the earliest start and the last end, and ``LimitExceeded`` true past the
  500 KB a trace holds (re:Post, "How do I resolve the trace quota error in X-Ray?"; the local
  cloud keeps the whole trace). A subsegment whose parent has not arrived stays a document of its
  own until it does.
- ``GetTraceSummaries`` answers empty ``Annotations``, no ``ServiceIds``, no ``EntryPoint``, a
  ``ResponseTime`` of 1, and fails every ``FilterExpression`` with "Not implemented yet" (an HTTP
  500). Here each summary is built from the compiled trace as the API reference's
  ``TraceSummary`` describes it (annotations with the services that set them, at most 50 keys a
  trace, "AWS X-Ray segment documents"; the services from each segment's ``name`` and ``origin``;
  the root segment as the entry point, its response time, fault and error; users, resource ARNs,
  HTTP), the ``FilterExpression`` is evaluated by :mod:`localcloud.xray_filters` (an expression
  that does not parse answers ``InvalidRequestException`` naming the place), ``TimeRangeType``
  picks the time a trace is found by (``TraceId``, when none is given, as the reference names no
  default: the trace's start, from its id; ``Event``: when it was last updated; ``Service``: a
  segment's end), ``Sampling`` with a
  ``SamplingStrategy`` keeps that fraction of the traces, and pages run from the end of the time
  frame backwards ("The first page contains the most recent results") with a ``NextToken``.

Not modeled: inferred segments (X-Ray's nodes for the AWS services a subsegment calls), root
causes (``FaultRootCauses``...; the ``rootcause.*`` keywords answer ``NotImplemented``) and groups.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from localcloud import xray_filters
from localcloud.xray_filters import FilterError, Value

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

TRACE_LIMIT_BYTES = 500 * 1024  # the trace document size X-Ray keeps when segments come batched
ANNOTATIONS_PER_TRACE = 50  # "X-Ray indexes up to 50 annotations per trace"
PAGE_SIZE = 100  # traces scanned per GetTraceSummaries page (AWS documents no number)
TIME_RANGE_TYPES = ("TraceId", "Event", "Service")


# --- compiling a trace -----------------------------------------------------------------------------


def _complete(document: dict[str, Any]) -> bool:
    return not document.get("in_progress")


def latest_documents(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document per id, in the order received: a complete one overwrites an in-progress one."""
    kept: dict[str, dict[str, Any]] = {}
    for document in documents:
        held = kept.get(document["id"])
        if held is None or _complete(document) or not _complete(held):
            kept[document["id"]] = document
    return list(kept.values())


def walk(entity: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A segment or subsegment, then each subsegment nested in it, depth first."""
    yield entity
    for subsegment in entity.get("subsegments") or []:
        yield from walk(subsegment)


def compile_trace(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace's segment documents, each subsegment sent separately nested into its parent.

    The documents are changed in place (pass copies). A subsegment whose parent is not in the
    trace stays a document of its own, as sent.
    """
    latest = latest_documents(documents)
    segments = [d for d in latest if d.get("type") != "subsegment"]
    independent = [d for d in latest if d.get("type") == "subsegment"]
    by_id: dict[str, dict[str, Any]] = {}
    for segment in segments:
        for entity in walk(segment):
            by_id.setdefault(entity["id"], entity)
    for subsegment in independent:
        by_id.setdefault(subsegment["id"], subsegment)
    independent_ids = {s["id"] for s in independent}

    def reaches_a_segment(subsegment: dict[str, Any]) -> bool:
        seen = set()
        current: dict[str, Any] | None = subsegment
        while current is not None and current["id"] in independent_ids:
            if current["id"] in seen:
                return False  # parents in a circle
            seen.add(current["id"])
            current = by_id.get(current.get("parent_id") or "")
        return current is not None

    attached = [s for s in independent if reaches_a_segment(s)]
    loose = [s for s in independent if s not in attached]
    parents = []
    for subsegment in sorted(attached, key=lambda s: s.get("start_time", 0)):
        parent = by_id[subsegment["parent_id"]]
        parent.setdefault("subsegments", []).append(subsegment)
        parents.append(parent)
    for subsegment in attached:
        for field in ("type", "trace_id", "parent_id"):  # what only a subsegment sent separately carries
            subsegment.pop(field, None)
    for parent in parents:
        parent["subsegments"].sort(key=lambda s: s.get("start_time", 0))
    return sorted([*segments, *loose], key=lambda d: d.get("start_time", 0))


def id_time(trace_id: str) -> float | None:
    """The time of the original request a trace id holds (``1-<8 hex digits>-<24 hex digits>``)."""
    try:
        return float(int(trace_id.split("-")[1], 16))
    except (IndexError, ValueError):
        return None


# --- what a trace says -------------------------------------------------------------------------------


def _account(segment: dict[str, Any]) -> str | None:
    aws = segment.get("aws") or {}
    if aws.get("account_id"):
        return str(aws["account_id"])
    for arn in _arns(segment):
        parts = arn.split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return None


def _arns(segment: dict[str, Any]) -> list[str]:
    aws = segment.get("aws") or {}
    found = [segment.get("resource_arn"), aws.get("function_arn"), aws.get("state_machine_arn")]
    return [arn for arn in found if isinstance(arn, str) and arn]


def service_id(segment: dict[str, Any]) -> dict[str, Any]:
    """The ServiceId of a segment: its ``name`` and, as its type, its ``origin``."""
    found: dict[str, Any] = {"Name": segment["name"], "Names": [segment["name"]]}
    if _account(segment):
        found["AccountId"] = _account(segment)
    if segment.get("origin"):
        found["Type"] = segment["origin"]
    return found


def _typed(value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int | float):
        return {"NumberValue": float(value)}
    if isinstance(value, str):
        return {"StringValue": value}
    return None  # "Fields can have string, number, or Boolean values (no objects or arrays)"


def _end(entity: dict[str, Any]) -> float | None:
    end = entity.get("end_time")
    return float(end) if isinstance(end, int | float) else None


class SegmentFacts:
    """One segment, as a service's filter sees it (``service(...) { filter }``)."""

    def __init__(self, segment: dict[str, Any], root: bool) -> None:
        self.segment = segment
        self.root = root

    def flag(self, name: str) -> bool:
        return bool(self.segment.get(name))

    def ok(self) -> bool:
        status = ((self.segment.get("http") or {}).get("response") or {}).get("status")
        if isinstance(status, int | float):
            return 200 <= status < 300
        return not (self.flag("fault") or self.flag("error") or self.flag("throttle"))

    def response_time(self) -> float | None:
        end = _end(self.segment)
        return None if end is None else end - float(self.segment["start_time"])

    def http(self) -> dict[str, Any]:
        http = self.segment.get("http") or {}
        request, response = http.get("request") or {}, http.get("response") or {}
        found = {
            "http.url": request.get("url"),
            "http.method": request.get("method"),
            "http.useragent": request.get("user_agent"),
            "http.clientip": request.get("client_ip"),
            "http.status": response.get("status"),
        }
        return {k: v for k, v in found.items() if v is not None}

    def values(self, keyword: str, key: str | None = None) -> list[Value]:
        segment = self.segment
        aws = segment.get("aws") or {}
        ec2 = aws.get("ec2") or {}
        if keyword in ("fault", "error", "throttle", "inferred"):
            return [self.flag(keyword)]
        found: Any = {
            "name": segment.get("name"),
            "type": segment.get("origin"),
            "ok": self.ok(),
            "root": self.root,
            "partial": any(e.get("in_progress") for e in walk(segment)),
            "responsetime": self.response_time(),
            "duration": self.response_time(),
            "user": segment.get("user"),
            "availabilityzone": ec2.get("availability_zone"),
            "instance.id": ec2.get("instance_id"),
            **self.http(),
        }.get(keyword)
        if keyword == "resource.arn":
            return list(_arns(segment))
        return [] if found is None else [found]

    def services(self) -> list[SegmentFacts]:
        return []

    def edges(self) -> list[tuple[SegmentFacts, SegmentFacts]]:
        return []


class TraceFacts:
    """A compiled trace: what its summary says, and what a filter expression asks of it."""

    def __init__(
        self,
        trace_id: str,
        documents: list[dict[str, Any]],
        revision: int = 0,
        updated: float = 0.0,
        size: int = 0,
    ) -> None:
        self.trace_id = trace_id
        self.documents = documents
        self.revision = revision  # documents received
        self.updated = updated  # when the last one was
        self.size = size  # their bytes
        self.segments = [d for d in documents if d.get("type") != "subsegment"]
        owner: dict[str, dict[str, Any]] = {}  # entity id -> the segment it is in
        for segment in self.segments:
            for entity in walk(segment):
                owner.setdefault(entity["id"], segment)
        self.owner = owner
        parentless = [s for s in self.segments if not s.get("parent_id")]
        unparented = [s for s in self.segments if s.get("parent_id") not in owner]
        roots = parentless or unparented or self.segments
        self.root = min(roots, key=lambda s: s.get("start_time", 0)) if roots else None
        self.facts = [SegmentFacts(s, s is self.root) for s in self.segments]
        self._annotations: dict[str, list[tuple[Any, dict[str, Any] | None]]] = {}
        for document in documents:
            for entity in walk(document):
                for name, value in (entity.get("annotations") or {}).items():
                    if name not in self._annotations and len(self._annotations) >= ANNOTATIONS_PER_TRACE:
                        continue
                    # a subsegment whose parent has not arrived is in no service yet
                    self._annotations.setdefault(name, []).append((value, owner.get(entity["id"])))

    # what a filter asks
    def values(self, keyword: str, key: str | None = None) -> list[Value]:
        if keyword == "annotation":
            return [v for v, _ in self._annotations.get(key or "", []) if _typed(v) is not None]
        root = SegmentFacts(self.root, True) if self.root is not None else None
        if keyword in ("ok", "error", "fault", "throttle", "responsetime") or keyword.startswith("http."):
            return root.values(keyword) if root else []
        if keyword == "partial":
            return [self.is_partial()]
        if keyword == "inferred":
            return [any(s.get("inferred") for s in self.segments)]
        if keyword == "duration":
            duration = self.duration()
            return [] if duration is None else [duration]
        return [v for facts in self.facts for v in facts.values(keyword)]

    def services(self) -> list[SegmentFacts]:
        return self.facts

    def edges(self) -> list[tuple[SegmentFacts, SegmentFacts]]:
        by_segment = {id(f.segment): f for f in self.facts}
        pairs = []
        for callee in self.facts:
            caller = self.owner.get(callee.segment.get("parent_id") or "")
            if caller is not None and caller is not callee.segment:
                pairs.append((by_segment[id(caller)], callee))
        return pairs

    # what the summary says
    def start(self) -> float | None:
        starts = [float(s["start_time"]) for s in self.segments]
        return min(starts) if starts else None

    def last_end(self) -> float | None:
        ends = [e for e in (_end(s) for s in self.segments) if e is not None]
        return max(ends) if ends else None

    def duration(self) -> float | None:
        start, end = self.start(), self.last_end()
        return None if start is None or end is None else end - start

    def is_partial(self) -> bool:
        return any(e.get("in_progress") for d in self.documents for e in walk(d))

    def request_time(self) -> float | None:
        """The time of the original request, from the trace id; else the earliest segment's start."""
        at = id_time(self.trace_id)
        return self.start() if at is None else at

    def _service_ids(self, segments: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        found: dict[tuple[str, str | None], dict[str, Any]] = {}
        for segment in segments:
            found.setdefault((segment["name"], segment.get("origin")), service_id(segment))
        return list(found.values())

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"Id": self.trace_id}
        start, duration = self.start(), self.duration()
        if start is not None:
            summary["StartTime"] = start
        if duration is not None:
            summary["Duration"] = duration
        root = SegmentFacts(self.root, True) if self.root is not None else None
        if root is not None and root.response_time() is not None:
            summary["ResponseTime"] = root.response_time()
        summary["HasFault"] = bool(root and root.flag("fault"))
        summary["HasError"] = bool(root and root.flag("error"))
        summary["HasThrottle"] = any(e.get("throttle") for d in self.documents for e in walk(d))
        summary["IsPartial"] = self.is_partial()
        http = root.http() if root else {}
        names = {
            "http.url": "HttpURL",
            "http.status": "HttpStatus",
            "http.method": "HttpMethod",
            "http.useragent": "UserAgent",
            "http.clientip": "ClientIp",
        }
        if http:
            summary["Http"] = {names[k]: v for k, v in http.items()}
        annotations: dict[str, list[dict[str, Any]]] = {}
        for name, occurrences in self._annotations.items():
            by_value: dict[str, dict[str, Any]] = {}
            for value, segment in occurrences:
                typed = _typed(value)
                if typed is None:
                    continue
                entry = by_value.setdefault(
                    json.dumps(typed, sort_keys=True), {"AnnotationValue": typed, "ServiceIds": []}
                )
                if segment is not None and service_id(segment) not in entry["ServiceIds"]:
                    entry["ServiceIds"].append(service_id(segment))
            if by_value:
                annotations[name] = list(by_value.values())
        summary["Annotations"] = annotations
        users: dict[str, dict[str, Any]] = {}
        for segment in self.segments:
            if isinstance(segment.get("user"), str):
                user = users.setdefault(segment["user"], {"UserName": segment["user"], "ServiceIds": []})
                if service_id(segment) not in user["ServiceIds"]:
                    user["ServiceIds"].append(service_id(segment))
        summary["Users"] = list(users.values())
        summary["ServiceIds"] = self._service_ids(self.segments)
        summary["ResourceARNs"] = [{"ARN": arn} for arn in dict.fromkeys(self.values("resource.arn"))]
        summary["InstanceIds"] = [{"Id": i} for i in dict.fromkeys(self.values("instance.id"))]
        summary["AvailabilityZones"] = [{"Name": z} for z in dict.fromkeys(self.values("availabilityzone"))]
        if self.root is not None:
            summary["EntryPoint"] = service_id(self.root)
        summary["Revision"] = self.revision
        return summary


# --- paging ------------------------------------------------------------------------------------------


def _token(position: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def _position(token: str) -> tuple[float, str]:
    try:
        moment, trace_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(moment), str(trace_id)
    except (ValueError, TypeError, binascii.Error):
        raise _invalid(f"NextToken {token!r} was not given by GetTraceSummaries") from None


def _sampled(trace_id: str, rate: float) -> bool:
    """The same traces for the same rate on every page: a fraction of the id's hash."""
    fraction = int(hashlib.sha256(trace_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return fraction < rate


def _invalid(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("InvalidRequestException", message)


# --- the patch -------------------------------------------------------------------------------------


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.xray.models import SegmentCollection
    from moto.xray.responses import XRayResponse

    put_segment = SegmentCollection.put_segment

    def put_stamped(self: Any, segment: Any) -> None:
        segment.received_at = time.time()  # when X-Ray got it: TimeRangeType Event
        put_segment(self, segment)

    patches.replace(SegmentCollection, "put_segment", put_stamped)

    def traces(collection: Any, wanted: Callable[[str], bool] = lambda trace_id: True) -> list[TraceFacts]:
        """The traces moto holds (those ``wanted`` of their ids), compiled from what was received."""
        found = []
        for trace_id, trace in list(collection._traces.items()):
            if not wanted(trace_id):
                continue
            stored = list(trace["segments"])
            received = sorted(stored, key=lambda s: getattr(s, "received_at", 0.0))
            found.append(
                TraceFacts(
                    trace_id,
                    compile_trace(json.loads(s.raw) for s in received),
                    revision=len(stored),
                    updated=max((getattr(s, "received_at", 0.0) for s in stored), default=0.0),
                    size=sum(len(s.raw) for s in stored),
                )
            )
        return found

    def moment(facts: TraceFacts, time_range_type: str) -> float | None:
        if time_range_type == "Event":
            return facts.updated
        if time_range_type == "Service":
            return facts.last_end()
        return facts.request_time()

    def trace_summaries(self: Any) -> Any:
        params = self.request_params
        for required in ("StartTime", "EndTime"):
            if params.get(required) is None:
                raise _invalid(f"Parameter {required} is missing")
        try:
            start, end = float(params["StartTime"]), float(params["EndTime"])
        except (TypeError, ValueError):
            raise _invalid("StartTime and EndTime are timestamps") from None
        time_range_type = params.get("TimeRangeType") or "TraceId"
        if time_range_type not in TIME_RANGE_TYPES:
            raise _invalid(f"TimeRangeType must be one of {', '.join(TIME_RANGE_TYPES)}: {time_range_type}")
        expression = params.get("FilterExpression")
        try:
            node = xray_filters.parse(expression) if expression else None
        except FilterError as error:
            raise _invalid(str(error)) from None
        rate = None
        if params.get("Sampling"):
            strategy = params.get("SamplingStrategy") or {}
            if strategy.get("Value") is not None:
                rate = float(strategy["Value"])
        after = _position(params["NextToken"]) if params.get("NextToken") else None

        def may_be_in_range(trace_id: str) -> bool:  # the trace id tells its start: compile no other
            if time_range_type != "TraceId":
                return True
            at = id_time(trace_id)
            return at is None or start <= at <= end

        in_range: list[tuple[float, str, TraceFacts]] = []
        for facts in traces(self.xray_backend._segment_collection, may_be_in_range):
            at = moment(facts, time_range_type)
            if not facts.segments or at is None or not start <= at <= end:
                continue
            in_range.append((at, facts.trace_id, facts))
        in_range.sort(key=lambda item: (item[0], item[1]), reverse=True)  # the most recent first
        if after is not None:
            in_range = [item for item in in_range if (item[0], item[1]) < after]
        page, rest = in_range[:PAGE_SIZE], in_range[PAGE_SIZE:]
        summaries = [
            facts.summary()
            for _, trace_id, facts in page
            if (rate is None or _sampled(trace_id, rate))
            and (node is None or xray_filters.evaluate(node, facts))
        ]
        result: dict[str, Any] = {
            "TraceSummaries": summaries,
            "TracesProcessedCount": len(page),
            "ApproximateTime": page[-1][0] if rest else start,  # the start of this page
        }
        if rest:
            result["NextToken"] = _token((page[-1][0], page[-1][1]))
        return json.dumps(result)

    def batch_traces(self: Any) -> Any:
        trace_ids = self.request_params.get("TraceIds")
        if not trace_ids:
            raise _invalid("Parameter TraceIds is missing")
        if len(trace_ids) > 5:  # "Array Members: Minimum number of 1 item. Maximum number of 5 items."
            raise _invalid(f"TraceIds holds {len(trace_ids)} trace ids: at most 5 a call")
        asked = set(trace_ids)
        known = {f.trace_id: f for f in traces(self.xray_backend._segment_collection, asked.__contains__)}
        found, unprocessed = [], []
        for trace_id in trace_ids:
            facts = known.get(trace_id)
            if facts is None:
                unprocessed.append(trace_id)
                continue
            trace: dict[str, Any] = {
                "Id": trace_id,
                "LimitExceeded": facts.size > TRACE_LIMIT_BYTES,
                "Segments": [
                    {"Id": d["id"], "Document": json.dumps(d, separators=(",", ":"))} for d in facts.documents
                ],
            }
            if facts.duration() is not None:
                trace["Duration"] = facts.duration()
            found.append(trace)
        return json.dumps({"Traces": found, "UnprocessedTraceIds": unprocessed})

    patches.replace(XRayResponse, "trace_summaries", trace_summaries)
    patches.replace(XRayResponse, "traces", batch_traces)
