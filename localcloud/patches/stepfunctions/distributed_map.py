"""The Distributed Map state, run as Step Functions runs it.

moto's grammar predates most of the Distributed Map, and its interpreter runs the
iterations inside the parent execution. Here, before moto parses a definition,
each Distributed Map state is handed to moto without the fields its grammar
refuses, the state's own definition riding in its ``Comment``; when the state
runs, it runs from that definition as AWS documents it ("Using Map state in
Distributed mode", "ItemReader", "ItemBatcher", "ResultWriter", "Distributed Map
failure threshold", the Map Run API reference): a Map Run whose every item (or
batch) is a child workflow execution of its own. The state's other fields
(ItemsPath, Items, ItemSelector, MaxConcurrency, the tolerated failures, Label)
stay moto's components; the fields moto lacks are payload templates evaluated by
moto's own Pass-state components, so ``.$`` paths, intrinsic functions and
``{% %}`` JSONata mean what they mean everywhere else.

Each divergence fixed, AWS's rule first:

- AWS: a definition's QueryLanguage scopes are its own (moto: one class-level list served every parse
  in the process, so a definition refused mid-parse, or one parsed in another thread as Map Runs do, left
  its JSONata or JSONPath scope to the next, which was refused).
- AWS: ``ProcessorConfig.ExecutionType: EXPRESS`` runs Express children (moto: refused the definition).
- AWS: each child is an execution of the Map Run's state machine ``<machine>/<label or UUID>``, named with
  a UUID, with its own input, output and history (moto: iterations ran inside the parent).
- AWS: ``ListExecutions(mapRunArn=…)`` lists a Map Run's children with their ``itemCount``,
  ``DescribeExecution`` gives a child's ``mapRunArn``, ``ListStateMachines`` leaves Map Run state
  machines out (moto: ``mapRunArn`` failed with an internal error).
- AWS: DescribeMapRun, ListMapRuns and UpdateMapRun answer for a Map Run from its start (moto: failed
  while a child was starting).
- AWS: ItemReader ``InputType: JSONL`` gives an item a line (moto: refused the definition).
- AWS: ``InputType: MANIFEST`` (or ``ManifestType: S3_INVENTORY``) reads the CSV files an S3 inventory
  manifest lists, a row an item keyed by its ``fileSchema`` (moto: refused the definition).
- AWS: ``InputType: JSON`` reads an array, or the one ``ItemsPointer`` points to (moto: no ItemsPointer).
- AWS: CSV fields split on ``CSVDelimiter`` (COMMA, PIPE, SEMICOLON, SPACE, TAB), quotes and backslashes
  escape, a short row gets empty strings, a long row loses its extra fields (moto: commas only).
- AWS: an object whose key ends in ``.gz`` is read gunzipped (moto: read as text).
- AWS: ``s3:listObjectsV2`` gives every object under the Prefix as ``{"Etag", "Key", "LastModified"
  (epoch seconds), "Size", "StorageClass"}``, or with ``Transformation: LOAD_AND_FLATTEN`` the items in
  those objects (moto: the first 1,000 with boto3's datetimes, which failed DescribeExecution; an empty
  listing failed; LOAD_AND_FLATTEN refused).
- AWS: ReaderConfig ``MaxItems``/``MaxItemsPath`` bound the items of any source, 0 meaning no bound
  (moto: JSON and CSV files only).
- AWS: ``ItemBatcher`` gives each child ``{"BatchInput": …, "Items": […]}``, at most
  ``MaxItemsPerBatch`` items and ``MaxInputBytesPerBatch`` bytes (256 KiB by default) (moto: refused).
- AWS: ``ToleratedFailurePercentage`` is a number from 0 to 100 (moto: refused a whole number).
- AWS: ``MaxConcurrency`` bounds the children running at once (0: up to 10,000), and UpdateMapRun's
  ``maxConcurrency`` holds from then on (moto: read once, an update changed nothing).
- AWS: a Map Run fails with ``States.ExceedToleratedFailureThreshold`` ("The specified tolerated failure
  threshold was exceeded") once its failed or timed-out items exceed ``ToleratedFailureCount`` or
  ``ToleratedFailurePercentage`` of all items (either, when both are set; none tolerated when neither
  is), starting no more children and stopping its running Standard ones (moto: a Map Run whose children
  failed succeeded, with null results).
- AWS: a tolerated failed child stays in the Map's result as its execution record, its ``Error`` and
  ``Cause`` with it (moto: null).
- AWS: ``ResultWriter`` writes ``<Prefix>/<Map Run id>/manifest.json``, ``SUCCEEDED_0.json``,
  ``FAILED_0.json`` (failed, timed-out and aborted children, with Error and Cause) and
  ``PENDING_0.json`` (items never started), though the Map Run fails, and the Map's result is
  ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`` (moto: a manifest listing no files).
- AWS: ``WriterConfig`` ``Transformation`` NONE writes execution records, COMPACT the outputs, FLATTEN
  the outputs with arrays flattened (a child that did not succeed stays a record), ``OutputType: JSONL``
  JSON Lines; without ``Resource`` it shapes the Map's own result (moto: refused the definition).
- AWS: DescribeMapRun's ``itemCounts`` and ``executionCounts`` count pending, running, succeeded,
  failed, timed-out and aborted (moto: failed children stayed running, nothing was pending).
- AWS: an ``arn:aws:states:::states:startExecution`` Task passes StateMachineArn, Input and Name to
  StartExecution and returns ``{"ExecutionArn", "StartDate"}`` (epoch milliseconds); ``.sync`` returns
  DescribeExecution in PascalCase (moto: failed with ``KeyError 'StateMachineArn'``).

Not run locally, and refused when a definition asks: ``InputType: PARQUET``,
``ManifestType: ATHENA_DATA``, ZSTD-compressed objects.
"""

from __future__ import annotations

import base64
import copy
import csv
import functools
import gzip
import io
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from localcloud.patches.stepfunctions.api import page_of

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

MARKER = "localcloud:distributed-map:"  # begins the Comment moto sees on a Distributed Map state
PARSED_DEFINITIONS_KEPT = 64  # the definitions kept parsed, of those run last
MAX_CHILDREN = 10_000  # AWS: up to 10,000 child workflow executions at once when MaxConcurrency is 0
MAX_BATCH_BYTES = 256 * 1024  # AWS: MaxInputBytesPerBatch is at most 256 KiB, the default
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
EXCEEDED = "The specified tolerated failure threshold was exceeded"
UNFINISHED = ("FAILED", "TIMED_OUT", "ABORTED")  # the children a FAILED_n.json file holds
_NO_BATCH_INPUT = object()


class DefinitionRefused(ValueError):
    """A Distributed Map the local cloud cannot run; the message says which field, and why."""


class MapRunFailed(Exception):
    """The Map Run fails with ``error``; the message is the cause."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(cause)
        self.error = error
        self.cause = cause


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- definitions: what moto parses -------------------------------------------------------------


def rewrite_definition(definition: str) -> str | None:
    """moto's view of a definition: its Distributed Maps without the fields moto's grammar refuses.

    ``None`` when the definition has no Distributed Map, so that moto parses it unchanged.
    """
    try:
        document = json.loads(definition)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("States"), dict):
        return None
    if not _rewrite_states(document["States"], str(document.get("QueryLanguage", "JSONPath"))):
        return None
    return json.dumps(document)


def _rewrite_states(states: dict[str, Any], language: str) -> bool:
    changed = False
    for state in states.values():
        if not isinstance(state, dict):
            continue
        branches = state.get("Branches") if state.get("Type") == "Parallel" else None
        for branch in branches or []:
            if isinstance(branch, dict) and isinstance(branch.get("States"), dict):
                changed |= _rewrite_states(branch["States"], language)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if state.get("Type") != "Map" or not isinstance(processor, dict):
            continue
        config = processor.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED":
            _refuse_what_cannot_run(state)
            envelope = {"state": copy.deepcopy(state), "language": language}
            for name in ("ItemReader", "ItemBatcher", "ResultWriter"):
                state.pop(name, None)
            if "ExecutionType" in config:
                config["ExecutionType"] = "STANDARD"  # the only value moto's grammar knows
            if isinstance(state.get("ToleratedFailurePercentage"), int):
                state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
            encoded = base64.b64encode(json.dumps(envelope).encode()).decode()
            state["Comment"] = MARKER + encoded
            changed = True
        if isinstance(processor.get("States"), dict):
            changed |= _rewrite_states(processor["States"], language)
    return changed


def _refuse_what_cannot_run(state: dict[str, Any]) -> None:
    reader = state.get("ItemReader")
    if reader is not None:
        resource = str(reader.get("Resource", ""))
        if not resource.endswith((":s3:getObject", ":s3:listObjectsV2")):
            raise DefinitionRefused(f"ItemReader Resource {resource!r}: s3:getObject or s3:listObjectsV2")
        config = reader.get("ReaderConfig") or {}
        if config.get("InputType") == "PARQUET":
            raise DefinitionRefused("ItemReader InputType PARQUET: the local cloud reads no Parquet")
        if config.get("ManifestType") == "ATHENA_DATA":
            raise DefinitionRefused(
                "ItemReader ManifestType ATHENA_DATA: the local cloud reads no Athena manifest"
            )
        if config.get("CSVDelimiter", "COMMA") not in CSV_DELIMITERS:
            raise DefinitionRefused(f"CSVDelimiter must be one of {', '.join(CSV_DELIMITERS)}")
    writer = state.get("ResultWriter")
    if writer is not None and not (writer.get("WriterConfig") or writer.get("Resource")):
        raise DefinitionRefused("The ResultWriter field cannot be empty")


def envelope_of(state: Any) -> dict[str, Any] | None:
    """The definition a rewritten Distributed Map state carries in its Comment, if it is one."""
    text = getattr(getattr(state, "comment", None), "comment", None)
    if not isinstance(text, str) or not text.startswith(MARKER):
        return None
    envelope: dict[str, Any] = json.loads(base64.b64decode(text[len(MARKER) :]))
    return envelope


def child_definition(envelope: dict[str, Any]) -> str:
    """The definition of the Map Run's state machine: the ItemProcessor, in the parent's query language."""
    state = envelope["state"]
    processor = state.get("ItemProcessor") or state["Iterator"]
    definition: dict[str, Any] = {"StartAt": processor["StartAt"], "States": processor["States"]}
    language = processor.get("QueryLanguage") or envelope["language"]
    if language != "JSONPath":
        definition["QueryLanguage"] = language
    return json.dumps(definition)


# --- ItemReader ----------------------------------------------------------------------------------


class ReaderFailed(Exception):
    """The ItemReader could not read its items (States.ItemReaderFailed); the message is the cause."""


def read_items(s3: Any, resource: str, arguments: dict[str, Any], config: dict[str, Any]) -> list[Any]:
    """The items an ItemReader reads, as AWS's ItemReader page describes each source."""
    input_type = "MANIFEST" if config.get("ManifestType") == "S3_INVENTORY" else config.get("InputType")
    bucket = arguments.get("Bucket")
    if not isinstance(bucket, str):
        raise ReaderFailed("The ItemReader needs a Bucket")
    if resource.endswith(":s3:listObjectsV2"):
        listed = list(_list_objects(s3, arguments))
        if config.get("Transformation") != "LOAD_AND_FLATTEN":
            return listed
        items: list[Any] = []
        for listed_object in listed:
            if not listed_object["Key"].endswith("/"):  # a console "folder" holds no items
                body = _get_object(s3, bucket, listed_object["Key"])
                items.extend(parse_items(body, listed_object["Key"], input_type or "JSON", config))
        return items
    key = arguments.get("Key")
    if not isinstance(key, str):
        raise ReaderFailed("The ItemReader needs a Key")
    body = _get_object(s3, bucket, key, arguments.get("VersionId"))
    if input_type == "MANIFEST":
        return _inventory(s3, body, config)
    return parse_items(body, key, input_type or "JSON", config)


def parse_items(body: bytes, key: str, input_type: str, config: dict[str, Any]) -> list[Any]:
    """The items of one object's content: JSON, JSONL or CSV, gunzipped when its key ends in .gz."""
    text = _decompressed(body, key).decode("utf-8")
    if input_type == "JSON":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ReaderFailed(f"{key} is not JSON: {exc}") from exc
        if config.get("ItemsPointer"):
            value = _pointed(value, str(config["ItemsPointer"]))
        if not isinstance(value, list):
            raise ReaderFailed("Attempting to map over non-iterable node.")
        return value
    if input_type == "JSONL":
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as exc:
                    raise ReaderFailed(f"{key} line {number} is not JSON: {exc}") from exc
        return items
    if input_type == "CSV":
        return parse_csv(text, config)
    raise ReaderFailed(f"InputType {input_type!r} cannot be read from {key}")


def parse_csv(text: str, config: dict[str, Any], schema: list[str] | None = None) -> list[dict[str, str]]:
    """CSV rows as items, every field a string, by AWS's parsing rules for text delimited files."""
    delimiter = CSV_DELIMITERS[str(config.get("CSVDelimiter", "COMMA"))]
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        escapechar="\\",
        strict=False,
    )
    rows = (row for row in reader if row)
    location = config.get("CSVHeaderLocation") or ("GIVEN" if schema is not None else "FIRST_ROW")
    if location == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or schema or []]
    else:
        headers = next(rows, [])
    if len(set(headers)) < len(headers):
        raise ReaderFailed("CSV headers cannot contain duplicates.")
    return [{header: row[i] if i < len(row) else "" for i, header in enumerate(headers)} for row in rows]


def _inventory(s3: Any, body: bytes, config: dict[str, Any]) -> list[Any]:
    try:
        manifest = json.loads(body)
        schema = [name.strip() for name in str(manifest["fileSchema"]).split(",")]
        bucket = str(manifest["destinationBucket"]).split(":::")[-1]
        files = [str(f["key"]) for f in manifest.get("files", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise ReaderFailed(f"The S3 inventory manifest cannot be read: {exc!r}") from exc
    if str(manifest.get("fileFormat", "CSV")).upper() != "CSV":
        raise ReaderFailed("The output format of an S3 inventory report must be CSV")
    items: list[Any] = []
    for key in files:
        text = _decompressed(_get_object(s3, bucket, key), key).decode("utf-8")
        items.extend(parse_csv(text, config, schema))
    return items


def _list_objects(s3: Any, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    known = (
        "Bucket",
        "Prefix",
        "Delimiter",
        "StartAfter",
        "EncodingType",
        "RequestPayer",
        "ExpectedBucketOwner",
    )
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            **{k: v for k, v in arguments.items() if k in known}
        ):
            for listed in page.get("Contents", []):
                yield {
                    "Etag": listed["ETag"],
                    "Key": listed["Key"],
                    "LastModified": int(listed["LastModified"].timestamp()),
                    "Size": listed["Size"],
                    "StorageClass": listed.get("StorageClass", "STANDARD"),
                }
    except Exception as exc:
        raise ReaderFailed(_s3_cause(exc)) from exc


def _get_object(s3: Any, bucket: str, key: str, version: Any = None) -> bytes:
    request = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    try:
        body: bytes = s3.get_object(**request)["Body"].read()
    except Exception as exc:
        raise ReaderFailed(_s3_cause(exc)) from exc
    return body


def _s3_cause(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    if error:
        return f"{error.get('Message', '')} (Service: S3, Error Code: {error.get('Code', '')})"
    return repr(exc)


def _decompressed(body: bytes, key: str) -> bytes:
    if key.endswith(".gz"):
        return gzip.decompress(body)
    if key.endswith((".zstd", ".zst")):
        raise ReaderFailed(f"{key}: the local cloud reads no ZSTD")
    return body


def _pointed(value: Any, pointer: str) -> Any:
    """The node an RFC 6901 JSON Pointer names."""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise ReaderFailed(f"ItemsPointer {pointer} names nothing in the file")
    return value


# --- ItemBatcher -------------------------------------------------------------------------------


def batch_items(
    items: list[Any], max_items: int | None, max_bytes: int | None, batch_input: Any = _NO_BATCH_INPUT
) -> list[dict[str, Any]]:
    """Child inputs ``{"BatchInput": …, "Items": […]}``: as many items as both limits allow, in order."""
    head: dict[str, Any] = {} if batch_input is _NO_BATCH_INPUT else {"BatchInput": batch_input}
    empty = len(_compact({**head, "Items": []}).encode())
    limit = max_bytes or MAX_BATCH_BYTES
    batches: list[dict[str, Any]] = []
    current: list[Any] = []
    size = empty
    for item in items:
        item_size = len(_compact(item).encode())
        grown = size + item_size + (1 if current else 0)
        if current and ((max_items and len(current) >= max_items) or grown > limit):
            batches.append({**head, "Items": current})
            current, grown = [], empty + item_size
        current.append(item)
        size = grown
    if current:
        batches.append({**head, "Items": current})
    return batches


# --- the children's results ----------------------------------------------------------------------


def _timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Child:
    """One child workflow execution of a Map Run, from PENDING to its end."""

    index: int
    input: Any
    items: int
    status: str = "PENDING"
    arn: str = ""
    name: str = ""
    machine_arn: str = ""
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start: datetime | None = None
    stop: datetime | None = None
    execution: Any = None
    stopping: bool = False

    def record(self) -> dict[str, Any]:
        """The child as ResultWriter's NONE transformation gives it (keys in AWS's order)."""
        if self.status == "PENDING":
            return {"Input": _compact(self.input), "InputDetails": {"Included": True}, "Status": "PENDING"}
        record: dict[str, Any] = {
            "ExecutionArn": self.arn,
            "Input": _compact(self.input),
            "InputDetails": {"Included": True},
            "Name": self.name,
            "RedriveCount": 0,
            "StartDate": _timestamp(self.start),
            "StateMachineArn": self.machine_arn,
            "Status": self.status,
            "StopDate": _timestamp(self.stop),
        }
        if self.status == "SUCCEEDED":
            record["Output"] = _compact(self.output)
            record["OutputDetails"] = {"Included": True}
            record["RedriveStatus"] = "NOT_REDRIVABLE"
            record["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
        else:
            record["RedriveStatus"] = "REDRIVABLE_BY_MAP_RUN"
        if self.error is not None:
            record["Error"] = self.error
        if self.cause is not None:
            record["Cause"] = self.cause
        return dict(sorted(record.items()))


def transformed(children: list[Child], transformation: str) -> list[Any]:
    """The children's results by WriterConfig's Transformation; a child that did not succeed is a record."""
    results: list[Any] = []
    for child in children:
        if child.status != "SUCCEEDED" or transformation == "NONE":
            results.append(child.record())
        elif transformation == "FLATTEN" and isinstance(child.output, list):
            results.extend(child.output)
        else:
            results.append(child.output)
    return results


def _encoded(values: list[Any], output_type: str) -> bytes:
    if output_type == "JSONL":
        return "\n".join(_compact(v) for v in values).encode()
    return _compact(values).encode()


def write_results(
    s3: Any, bucket: str, prefix: str, map_run_arn: str, children: list[Child], writer_config: dict[str, Any]
) -> str:
    """Write the Map Run's result files and manifest as ResultWriter does; the manifest's key."""
    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    folder += map_run_arn.rsplit(":", 1)[-1] + "/"
    output_type = str(writer_config.get("OutputType", "JSON"))
    groups = {
        "FAILED": [c for c in children if c.status in UNFINISHED],
        "PENDING": [c for c in children if c.status == "PENDING"],
        "SUCCEEDED": [c for c in children if c.status == "SUCCEEDED"],
    }
    files: dict[str, list[dict[str, Any]]] = {kind: [] for kind in groups}
    for kind, group in groups.items():
        if not group:
            continue
        values = transformed(group, str(writer_config.get("Transformation", "NONE")))
        body = _encoded(values, output_type)
        key = f"{folder}{kind}_0.json"
        _put(s3, bucket, key, body)
        files[kind].append({"Key": key, "Size": len(body)})
    manifest_key = folder + "manifest.json"
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
    _put(s3, bucket, manifest_key, _compact(manifest).encode())
    return manifest_key


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    except Exception as exc:
        raise MapRunFailed("States.ResultWriterFailed", _s3_cause(exc)) from exc


# --- Map Runs ------------------------------------------------------------------------------------


class MapRun:
    """A Map Run: moto's record (what DescribeMapRun answers), its children, and its thresholds."""

    def __init__(self, record: Any, count_set: bool, percentage_set: bool) -> None:
        self.record = record
        self.machine_arn: str = record.map_state_machine_arn
        self.count_set = count_set
        self.percentage_set = percentage_set
        self.children: list[Child] = []
        self.total_items = 0
        self.failed_items = 0  # failed or timed out: what the thresholds count
        self.running = 0
        self.changed = threading.Condition()

    def exceeded(self) -> bool:
        """AWS: a Map Run fails once failed items exceed the count or the percentage (by default, none)."""
        if self.failed_items == 0:
            return False
        if not (self.count_set or self.percentage_set):
            return True
        record = self.record
        if self.count_set and self.failed_items > record.tolerated_failure_count:
            return True
        return bool(
            self.percentage_set
            and self.failed_items * 100 > float(record.tolerated_failure_percentage) * self.total_items
        )


class MapRuns:
    """The Map Runs of one running cloud, by ARN; and the children's Map Runs, by execution ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, MapRun] = {}
        self._of_child: dict[str, str] = {}
        self.machines: dict[str, Any] = {}

    def add(self, run: MapRun) -> None:
        with self._lock:
            self._runs[run.record.map_run_arn] = run

    def get(self, map_run_arn: str | None) -> MapRun | None:
        with self._lock:
            return self._runs.get(map_run_arn or "")

    def of_execution(self, execution_arn: str) -> list[MapRun]:
        with self._lock:
            return [r for r in self._runs.values() if r.record.execution_arn == execution_arn]

    def child_started(self, execution_arn: str, map_run_arn: str) -> None:
        with self._lock:
            self._of_child[execution_arn] = map_run_arn

    def map_run_of(self, execution_arn: str | None) -> str | None:
        with self._lock:
            return self._of_child.get(execution_arn or "")

    def machine(self, arn: str, create: Callable[[], Any]) -> tuple[Any, bool]:
        """The Map Run state machine at ``arn`` (one per parent machine and label), and whether it is new."""
        with self._lock:
            if arn in self.machines:
                return self.machines[arn], False
            self.machines[arn] = create()
            return self.machines[arn], True


def _child_execution_class() -> type:
    """moto's Execution, for a child: a program parsed once per Map Run, and a report when it ends."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.evaluation_details import EvaluationDetails
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    class ChildCommunication(BaseExecutionWorkerCommunication):
        def terminated(self) -> None:
            try:
                super().terminated()
            finally:
                self.execution.report_done()

    class ChildWorker(ExecutionWorker):
        program: Any = None
        execution: Any = None

        def _get_evaluation_entrypoint(self) -> Any:
            return self.program

        def _execution_logic(self) -> None:
            try:
                super()._execution_logic()
            except Exception as exc:  # noqa: BLE001 - a child that breaks fails, it never hangs its Map Run
                self.execution.exec_status = ExecutionStatus.FAILED
                self.execution.error, self.execution.cause = "States.Runtime", repr(exc)
                self.execution.stop_date = datetime.now(UTC)
                self.execution.report_done()

    class ChildExecution(Execution):
        def __init__(self, *, program: Any, on_done: Callable[[Any], None], **kwargs: Any) -> None:
            self.program = program
            self._on_done = on_done
            self._reported = threading.Lock()
            super().__init__(**kwargs)

        def report_done(self) -> None:
            if self._reported.acquire(blocking=False):
                self._on_done(self)

        def _get_start_execution_worker_comm(self) -> Any:
            return ChildCommunication(self)

        def _get_start_execution_worker(self) -> Any:
            worker = ChildWorker(
                evaluation_details=EvaluationDetails(
                    aws_execution_details=self._get_start_aws_execution_details(),
                    execution_details=self.get_start_execution_details(),
                    state_machine_details=self.get_start_state_machine_details(),
                ),
                exec_comm=self._get_start_execution_worker_comm(),
                cloud_watch_logging_session=self._cloud_watch_logging_session,
                activity_store=self._activity_store,
            )
            worker.program, worker.execution = self.program, self
            return worker

    return ChildExecution


class _Templates:
    """Payload templates of the fields moto's grammar lacks, evaluated by moto's Pass-state components."""

    def __init__(self, parse: Callable[[str], Any], jsonata: bool) -> None:
        self._parse = parse
        self._jsonata = jsonata

    def evaluate(self, env: Any, template: Any, state_input: Any) -> Any:
        if self._jsonata:
            definition = {
                "QueryLanguage": "JSONata",
                "StartAt": "T",
                "States": {"T": {"Type": "Pass", "Output": template, "End": True}},
            }
        else:
            definition = {
                "StartAt": "T",
                "States": {"T": {"Type": "Pass", "Parameters": template, "End": True}},
            }
        state = self._parse(json.dumps(definition))[0].states.states["T"]
        component = state.output.jsonata_template_value if self._jsonata else state.parameters
        frame = env.open_inner_frame()
        try:
            frame.states.reset(input_value=state_input)
            frame.stack.append(state_input)
            component.eval(frame)
            return frame.stack.pop()
        finally:
            env.delete_frame(frame)

    def setting(self, env: Any, fields: dict[str, Any], name: str, state_input: Any) -> int | None:
        """A whole-number setting given as ``name`` or as ``namePath``; None when neither is."""
        if name in fields:
            value = self.evaluate(env, {"v": fields[name]}, state_input)["v"]
        elif name + "Path" in fields and not self._jsonata:
            value = self.evaluate(env, {"v.$": fields[name + "Path"]}, state_input)["v"]
        else:
            return None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise MapRunFailed("States.Runtime", f"{name} must be a non-negative integer, got {value!r}")
        return value


def _run_distributed_maps(patches: Patches, cloud: LocalCloud, runs: MapRuns) -> None:
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.api import (
        EvaluationFailedEventDetails,
        HistoryEventType,
        MapRunFailedEventDetails,
        MapRunStartedEventDetails,
        MapRunStatus,
        MapStateStartedEventDetails,
        StateMachineType,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        map_run_record,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    child_execution = _child_execution_class()
    eval_inline = StateMap._eval_execution
    clients: dict[str, Any] = {}
    clients_lock = threading.Lock()

    def s3() -> Any:
        """The cloud's S3 client for every Map Run (made at first use: the endpoint comes after install)."""
        with clients_lock:
            if "s3" not in clients:
                clients["s3"] = cloud.client("s3")
            return clients["s3"]

    def event(env: Any, event_type: Any, **details: Any) -> None:
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=event_type,
            event_details=EventDetails(**details) if details else None,
            update_source_event_id=False,
        )

    def fail(env: Any, error: str, cause: str) -> NoReturn:
        details = EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=error, cause=cause))
        event(env, HistoryEventType.MapRunFailed, **details)
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.from_name(error)),
                event_type=HistoryEventType.MapRunFailed,
                event_details=details,
            )
        )

    def items_of(state: Any, env: Any, state_input: Any) -> list[Any]:
        """Items without an ItemReader: moto's ItemsPath (JSONPath) or Items (JSONata)."""
        depth = len(env.stack)
        if state.items_path:
            state.items_path.eval(env=env)
        if state.items:
            state.items.eval(env=env)
        items = env.stack.pop() if len(env.stack) > depth else state_input
        if not isinstance(items, list):
            error = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=error,
                    event_type=HistoryEventType.EvaluationFailed,
                    event_details=EventDetails(
                        evaluationFailedEventDetails=EvaluationFailedEventDetails(
                            cause=f"Map state input must be an array but was: {type(items)}",
                            error=error.error_name,
                        )
                    ),
                )
            )
        return items

    def selected(state: Any, env: Any, state_input: Any, index: int, value: Any) -> Any:
        """An item's child input: moto's ItemSelector (or Parameters) with ``$$.Map.Item``."""
        selector = state.item_selector or state.parameters
        if selector is None:
            return value
        frame = env.open_inner_frame()
        try:
            frame.states.context_object.context_object_data["Map"] = MapData(
                Item=ItemData(Index=index, Value=value)
            )
            frame.states.reset(input_value=state_input)
            frame.stack.append(state_input)
            selector.eval(frame)
            return frame.stack.pop()
        finally:
            env.delete_frame(frame)

    def child_inputs(
        state: Any,
        env: Any,
        spec: dict[str, Any],
        templates: _Templates,
        state_input: Any,
        given: list[Any] | None,
    ) -> tuple[list[Any], list[int]]:
        reader = spec.get("ItemReader")
        if reader is None:
            items = given or []
        else:
            jsonata = not state._is_language_query_jsonpath()
            arguments = templates.evaluate(
                env, reader.get("Arguments" if jsonata else "Parameters") or {}, state_input
            )
            config = reader.get("ReaderConfig") or {}
            try:
                items = read_items(s3(), str(reader["Resource"]), arguments, config)
            except ReaderFailed as exc:
                raise MapRunFailed("States.ItemReaderFailed", str(exc)) from exc
            max_items = templates.setting(env, config, "MaxItems", state_input)
            if max_items:
                items = items[:max_items]
        inputs = [selected(state, env, state_input, i, item) for i, item in enumerate(items)]
        batcher = spec.get("ItemBatcher")
        if batcher is None:
            return inputs, [1] * len(inputs)
        batch_input = (
            templates.evaluate(env, batcher["BatchInput"], state_input)
            if "BatchInput" in batcher
            else _NO_BATCH_INPUT
        )
        batches = batch_items(
            inputs,
            templates.setting(env, batcher, "MaxItemsPerBatch", state_input),
            templates.setting(env, batcher, "MaxInputBytesPerBatch", state_input),
            batch_input,
        )
        return batches, [len(b["Items"]) for b in batches]

    def finished(run: MapRun, child: Child, execution: Any) -> None:
        """A child ended (in its own thread): count it, and wake the Map Run."""
        items, executions = run.record.item_counter, run.record.execution_counter
        with run.changed:
            child.status = str(execution.status)
            child.output, child.error, child.cause = execution.output, execution.error, execution.cause
            child.stop = execution.stop_date or datetime.now(UTC)
            run.running -= 1
            items.running.offset(-child.items)
            executions.running.offset(-1)
            counter = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out"}.get(
                child.status, "aborted"
            )
            getattr(items, counter).count(child.items)
            getattr(executions, counter).count()
            if child.status == "SUCCEEDED":
                items.results_written.count(child.items)
                executions.results_written.count()
            if child.status in ("FAILED", "TIMED_OUT"):
                run.failed_items += child.items
            run.changed.notify_all()

    def run_children(run: MapRun, env: Any, start: Callable[[Child], None], express: bool) -> str:
        """Start children as MaxConcurrency allows, until all ended, the threshold passed or the run stops."""
        queue = deque(run.children)
        verdict = ""
        while not verdict:
            starting: list[Child] = []
            with run.changed:
                if run.exceeded():
                    verdict = "FAILED"
                elif not env.is_running():
                    verdict = "ABORTED"
                elif not queue and run.running == 0:
                    verdict = "SUCCEEDED"
                else:
                    limit = run.record.max_concurrency or MAX_CHILDREN
                    while queue and run.running + len(starting) < limit:
                        starting.append(queue.popleft())
                    if not starting:
                        run.changed.wait(timeout=0.1)
            for child in starting:
                start(child)
        if verdict != "SUCCEEDED":
            with run.changed:
                while run.running:
                    for child in run.children:  # Express executions cannot be stopped: they run to their end
                        if child.status == "RUNNING" and not express and not child.stopping:
                            if child.execution.exec_worker and child.execution.exec_worker.env:
                                child.stopping = True
                                child.execution.stop(stop_date=datetime.now(UTC), error=None, cause=None)
                    run.changed.wait(timeout=0.05)
        return verdict

    def run_map(state: Any, env: Any, envelope: dict[str, Any]) -> None:
        spec = envelope["state"]
        state_input = env.stack[-1]
        jsonata = not state._is_language_query_jsonpath()
        templates = _Templates(lambda d: AmazonStateLanguageParser.parse(d), jsonata)
        state.max_concurrency_decl.eval(env=env)
        max_concurrency = env.stack.pop()
        # Like moto: items from the state input are counted in MapStateStarted, an ItemReader's are not.
        given = items_of(state, env, state_input) if "ItemReader" not in spec else None
        event(
            env,
            HistoryEventType.MapStateStarted,
            mapStateStartedEventDetails=MapStateStartedEventDetails(length=len(given or [])),
        )
        # Like moto: the tolerated failures are read in a frame of their own, after MapStateStarted.
        frame = env.open_frame()
        frame.states.reset(input_value=env.states.get_input())
        frame.stack = copy.deepcopy(env.stack)
        try:
            state.tolerated_failure_count_decl.eval(env=frame)
            tolerated_count = frame.stack.pop()
            state.tolerated_failure_percentage_decl.eval(env=frame)
            tolerated_percentage = frame.stack.pop()
        finally:
            env.close_frame(frame)
        context = env.states.context_object.context_object_data
        record = map_run_record.MapRunRecord(
            state_machine_arn=context["StateMachine"]["Id"],
            execution_arn=context["Execution"]["Id"],
            max_concurrency=max_concurrency,
            tolerated_failure_count=tolerated_count,
            tolerated_failure_percentage=tolerated_percentage,
            label=state.label.label if state.label else None,
        )
        env.map_run_record_pool_manager.add(record)
        run = MapRun(
            record,
            count_set=any(k in spec for k in ("ToleratedFailureCount", "ToleratedFailureCountPath")),
            percentage_set=any(
                k in spec for k in ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath")
            ),
        )
        runs.add(run)
        event(
            env,
            HistoryEventType.MapRunStarted,
            mapRunStartedEventDetails=MapRunStartedEventDetails(mapRunArn=record.map_run_arn),
        )
        try:
            result = map_run(state, env, envelope, run, templates, state_input, given)
        except MapRunFailed as failure:
            record.set_stop(MapRunStatus.FAILED)
            fail(env, failure.error, failure.cause)
        except FailureEventException as failure:
            record.set_stop(MapRunStatus.FAILED)
            error, cause = failure.extract_error_cause_pair() or (None, None)
            named = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
            event(
                env, HistoryEventType.MapRunFailed, mapRunFailedEventDetails=MapRunFailedEventDetails(**named)
            )
            raise
        except BaseException:
            record.set_stop(MapRunStatus.FAILED)
            raise
        env.stack.append(result)
        if record.status == MapRunStatus.ABORTED:  # the execution stopped, or the Map timed out
            event(env, HistoryEventType.MapRunAborted)
            return
        event(env, HistoryEventType.MapRunSucceeded)
        event(env, HistoryEventType.MapStateSucceeded)

    def map_run(
        state: Any,
        env: Any,
        envelope: dict[str, Any],
        run: MapRun,
        templates: _Templates,
        state_input: Any,
        given: list[Any] | None,
    ) -> Any:
        spec = envelope["state"]
        record = run.record
        inputs, counts = child_inputs(state, env, spec, templates, state_input, given)
        processor = spec.get("ItemProcessor") or spec["Iterator"]
        express = processor["ProcessorConfig"].get("ExecutionType") == "EXPRESS"
        details = env.aws_execution_details
        backend = stepfunctions_parser_backends[details.account][details.region]
        definition = child_definition(envelope)
        machine_name = run.machine_arn.split(":stateMachine:", 1)[1]
        machine, created = runs.machine(
            run.machine_arn,
            lambda: StateMachine(
                arn=run.machine_arn,
                name=machine_name,
                definition=definition,
                roleArn=details.role_arn,
                backend=backend,
                sm_type="EXPRESS" if express else "STANDARD",
            ),
        )
        if created:
            backend.state_machines.append(machine)
        snapshot = copy.copy(machine)  # this Map Run's definition, as an execution snapshots its machine's
        snapshot.definition = definition
        snapshot.sm_type = StateMachineType.EXPRESS if express else StateMachineType.STANDARD
        program = AmazonStateLanguageParser.parse(definition)[0]
        partition = str(record.execution_arn).split(":")[1]
        run.children = [
            Child(index=i, input=v, items=n) for i, (v, n) in enumerate(zip(inputs, counts, strict=True))
        ]
        run.total_items = sum(counts)
        for counter, total in (
            (record.item_counter, run.total_items),
            (record.execution_counter, len(inputs)),
        ):
            counter.total.count(total)
            counter.pending.count(total)

        def start(child: Child) -> None:
            name = str(uuid.uuid4())
            execution = child_execution(
                program=program,
                on_done=lambda ended: finished(run, child, ended),
                name=name,
                sm_type=snapshot.sm_type,
                role_arn=details.role_arn,
                exec_arn=f"arn:{partition}:states:{details.region}:{details.account}:execution:{machine_name}:{name}",
                account_id=details.account,
                region_name=details.region,
                state_machine=snapshot,
                start_date=datetime.now(UTC),
                cloud_watch_logging_session=None,
                activity_store=env.activity_store,
                input_data=_compact(child.input),
            )
            runs.child_started(execution.execution_arn, record.map_run_arn)
            # Under the run's lock, so that the child's end (in its own thread) is counted after its start,
            # and started before it is listed, so that no reader sees an execution without a status.
            with run.changed:
                child.name, child.arn = name, execution.execution_arn
                child.machine_arn, child.start, child.status = (
                    run.machine_arn,
                    execution.start_date,
                    "RUNNING",
                )
                run.running += 1
                for counter, count in ((record.item_counter, child.items), (record.execution_counter, 1)):
                    counter.pending.offset(-count)
                    counter.running.count(count)
                execution.start()
                child.execution = execution
                machine.executions.append(execution)

        verdict = run_children(run, env, start, express)
        writer = spec.get("ResultWriter") or {}
        writer_config = writer.get("WriterConfig") or {}
        if writer.get("Resource"):
            jsonata = not state._is_language_query_jsonpath()
            target = templates.evaluate(
                env, writer.get("Arguments" if jsonata else "Parameters") or {}, state_input
            )
            bucket, prefix = target.get("Bucket"), str(target.get("Prefix") or "")
            if not isinstance(bucket, str):
                raise MapRunFailed("States.ResultWriterFailed", "The ResultWriter needs a Bucket")
            key = write_results(s3(), bucket, prefix, record.map_run_arn, run.children, writer_config)
            result: Any = {
                "MapRunArn": record.map_run_arn,
                "ResultWriterDetails": {"Bucket": bucket, "Key": key},
            }
        else:
            started = [c for c in run.children if c.status != "PENDING"]
            result = transformed(started, str(writer_config.get("Transformation", "COMPACT")))
        if verdict == "FAILED":
            raise MapRunFailed("States.ExceedToleratedFailureThreshold", EXCEEDED)
        record.set_stop(MapRunStatus.ABORTED if verdict == "ABORTED" else MapRunStatus.SUCCEEDED)
        return result

    def eval_execution(self: Any, env: Any) -> None:
        envelope = envelope_of(self)
        if envelope is None:
            eval_inline(self, env)
        else:
            run_map(self, env, envelope)

    patches.replace(StateMap, "_eval_execution", eval_execution)


def install_parsing(patches: Patches) -> None:
    """Each definition parsed once, its Distributed Maps without the fields moto's grammar refuses."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.parse

    @functools.lru_cache(maxsize=PARSED_DEFINITIONS_KEPT)
    def parse_definition(definition: str) -> Any:
        """moto parses and preprocesses the whole definition at every execution start, half of a
        burst's CPU; each definition is parsed once. Its components are shared by its executions:
        they keep no state of a run (each run's is in its Environment), and nothing writes to them."""
        rewritten = rewrite_definition(definition) or definition
        return _parsed_in_sll(rewritten) or parse(rewritten)

    patches.replace(AmazonStateLanguageParser, "parse", staticmethod(parse_definition))


def _parsed_in_sll(definition: str) -> Any:
    """The definition parsed in ANTLR's SLL prediction mode, or None where SLL cannot parse it.

    moto's parser predicts in full-context LL mode, most of a deploy's time (a state machine is parsed
    when it is created). ANTLR documents SLL as the faster mode that "will either return a correct parse
    tree (i.e. the same parse tree that would be returned with the LL prediction mode), or it will report
    a syntax error" (PredictionMode). A definition SLL refuses goes to moto's own LL parse, so one that
    is wrong gets moto's syntax errors, as before."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.atn.PredictionMode import PredictionMode
    from antlr4.error.Errors import ParseCancellationException
    from antlr4.error.ErrorStrategy import BailErrorStrategy
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    lexer = ASLLexer(InputStream(definition))
    lexer.removeErrorListeners()  # the LL parse reports what is wrong, once
    parser = ASLParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser._interp.predictionMode = PredictionMode.SLL
    parser._errHandler = BailErrorStrategy()  # the first syntax error ends the SLL parse
    try:
        tree = parser.state_machine()
    except ParseCancellationException:
        return None
    return Preprocessor().visit(tree), tree  # what moto's parse answers: the program, and its tree


def _map_run_api(patches: Patches, runs: MapRuns) -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.api import ResourceNotFound
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    def existing(map_run_arn: str) -> MapRun:
        run = runs.get(map_run_arn)
        if run is None:
            raise ResourceNotFound(f"Map Run does not exist: '{map_run_arn}'")
        return run

    def describe_map_run(self: Any, map_run_arn: str) -> dict[str, Any]:
        run = existing(map_run_arn)
        with run.changed:  # the counts of one moment, not of a child half-counted
            described: dict[str, Any] = run.record.describe()
        return described

    def list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        self.describe_execution(execution_arn=execution_arn)  # an unknown execution is refused
        return {"mapRuns": [run.record.list_item() for run in runs.of_execution(execution_arn)]}

    def update_map_run(
        self: Any,
        map_run_arn: str,
        max_concurrency: int | None,
        tolerated_failure_count: Any,
        tolerated_failure_percentage: Any,
    ) -> None:
        run = existing(map_run_arn)
        with run.changed:
            run.record.update(
                max_concurrency=max_concurrency,
                tolerated_failure_count=tolerated_failure_count,
                tolerated_failure_percentage=tolerated_failure_percentage,
            )
            run.count_set |= tolerated_failure_count is not None
            run.percentage_set |= tolerated_failure_percentage is not None
            run.changed.notify_all()

    for name, method in (
        ("describe_map_run", describe_map_run),
        ("list_map_runs", list_map_runs),
        ("update_map_run", update_map_run),
    ):
        patches.replace(StepFunctionsParserBackend, name, method)

    listing = StepFunctionBackend.list_state_machines

    def list_state_machines(self: Any, *args: Any, **kwargs: Any) -> Any:
        machines, token = listing(self, *args, **kwargs)
        return [m for m in machines if m.arn not in runs.machines], token

    patches.replace(StepFunctionBackend, "list_state_machines", list_state_machines)

    list_executions = StepFunctionResponse.list_executions
    describe_execution = StepFunctionResponse.describe_execution

    def list_executions_of_map_run(self: Any) -> Any:
        map_run_arn = self._get_param("mapRunArn")
        if not map_run_arn:
            return list_executions(self)
        run = existing(map_run_arn)
        status = self._get_param("statusFilter")
        listed = []
        for child in sorted(
            run.children, key=lambda c: c.start or datetime.max.replace(tzinfo=UTC), reverse=True
        ):
            execution = child.execution
            if execution is None or (status and execution.status != status):
                continue
            item = {
                "executionArn": execution.execution_arn,
                "name": execution.name,
                "startDate": execution.start_date,
                "stateMachineArn": run.machine_arn,
                "status": execution.status,
                "mapRunArn": map_run_arn,
                "itemCount": child.items,
            }
            if execution.stop_date is not None and execution.status != "RUNNING":
                item["stopDate"] = execution.stop_date
            listed.append(item)
        return ActionResult(page_of(self, "executions", listed))

    def describe_execution_with_map_run(self: Any) -> Any:
        answer = describe_execution(self)
        map_run_arn = runs.map_run_of(self._get_param("executionArn"))
        if map_run_arn:
            answer.result["mapRunArn"] = map_run_arn
        return answer

    patches.replace(StepFunctionResponse, "list_executions", list_executions_of_map_run)
    patches.replace(StepFunctionResponse, "describe_execution", describe_execution_with_map_run)


def _epoch_millis(value: Any) -> None:
    """Step Functions gives an SDK integration's timestamps as epoch milliseconds."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, datetime):
                value[key] = int(inner.timestamp() * 1000)
            else:
                _epoch_millis(inner)
    elif isinstance(value, list):
        for inner in value:
            _epoch_millis(inner)


def _start_execution_task(patches: Patches) -> None:
    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    model = botocore.session.get_session().get_service_model("stepfunctions")
    operations = {xform_name(name): model.operation_model(name) for name in model.operation_names}
    normalise_parameters = StateTaskServiceSfn._normalise_parameters

    def boto_parameters(
        self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        normalise_parameters(self, parameters, boto_service_name, service_action_name)
        operation = operations.get(service_action_name or self._get_boto_service_action())
        if operation is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def sfn_response(
        self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        operation = operations.get(service_action_name or self._get_boto_service_action())
        if operation is not None and isinstance(response, dict):
            self._from_boto_response(response, operation.output_shape)
            _epoch_millis(response)

    patches.replace(StateTaskServiceSfn, "_normalise_parameters", boto_parameters)
    patches.replace(StateTaskServiceSfn, "_normalise_response", sfn_response)


def install(patches: Patches, cloud: LocalCloud) -> None:
    runs = MapRuns()  # this cloud's Map Runs: the patches below share them, nothing else finds them
    install_parsing(patches)
    _run_distributed_maps(patches, cloud, runs)
    _map_run_api(patches, runs)
    _start_execution_task(patches)
