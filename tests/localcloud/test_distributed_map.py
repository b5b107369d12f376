"""Distributed Map states run in the local cloud as Step Functions runs them (each test names the rule)."""

from __future__ import annotations

import functools
import gzip
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/sfn"
PASS = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
# A child that fails with Boom when its input says so, and echoes its input otherwise.
CHOOSE = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
            "Default": "Done",
        },
        "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "this item fails"},
        "Done": {"Type": "Pass", "End": True},
    },
}
# A child that waits 10 s (0.1 s on the time scale), so that children overlap.
WAIT = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 10, "End": True}}}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=0.01) as running:
        yield running


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    client(cloud, "s3").create_bucket(Bucket="dmap-data")
    return "dmap-data"


@functools.cache
def client(cloud: LocalCloud, service: str) -> Any:
    """One client a service for the module's cloud (a boto3 client takes a tenth of a second to make)."""
    return cloud.client(service)


def distributed(processor: dict[str, Any], execution_type: str = "STANDARD", **fields: Any) -> dict[str, Any]:
    """A state machine whose only state is a Distributed Map over ``processor``."""
    config = {"Mode": "DISTRIBUTED", "ExecutionType": execution_type}
    mapped = {"Type": "Map", "ItemProcessor": {"ProcessorConfig": config, **processor}, "End": True, **fields}
    return {"StartAt": "Fan out", "States": {"Fan out": mapped}}


def run(cloud: LocalCloud, definition: dict[str, Any], value: Any = None) -> dict[str, Any]:
    sfn = client(cloud, "stepfunctions")
    machine = sfn.create_state_machine(
        name=f"dmap-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    started = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps(value if value is not None else {})
    )
    return cloud.wait_for_execution(started["executionArn"], timeout=60)


def output(described: dict[str, Any]) -> Any:
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return json.loads(described["output"])


def map_run(cloud: LocalCloud, execution_arn: str) -> str:
    [listed] = client(cloud, "stepfunctions").list_map_runs(executionArn=execution_arn)["mapRuns"]
    return str(listed["mapRunArn"])


def children(cloud: LocalCloud, map_run_arn: str) -> list[dict[str, Any]]:
    sfn = client(cloud, "stepfunctions")
    listed = sfn.list_executions(mapRunArn=map_run_arn, maxResults=1000)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def put(cloud: LocalCloud, bucket: str, key: str, body: str | bytes) -> None:
    client(cloud, "s3").put_object(Bucket=bucket, Key=key, Body=body)


def read_json(cloud: LocalCloud, bucket: str, key: str) -> Any:
    return json.loads(client(cloud, "s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def reader(key: str, bucket: str, **config: Any) -> dict[str, Any]:
    return {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": config,
        "Parameters": {"Bucket": bucket, "Key": key},
    }


# --- ItemReader ------------------------------------------------------------------------------------


def test_a_json_file_is_read_up_to_max_items(cloud: LocalCloud, bucket: str) -> None:
    """AWS ItemReader: a JSON file in S3 holds an array; each element is one child's input, and
    ReaderConfig MaxItems stops reading after that many items."""
    put(cloud, bucket, "json/facts.json", json.dumps([{"n": n} for n in range(5)]))
    definition = distributed(PASS, ItemReader=reader("json/facts.json", bucket, InputType="JSON", MaxItems=3))
    assert output(run(cloud, definition)) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_a_json_lines_file_gives_an_item_a_line(cloud: LocalCloud, bucket: str) -> None:
    """AWS ItemReader: InputType JSONL starts as many children as the file has lines."""
    put(cloud, bucket, "jsonl/facts.jsonl", "\n".join(json.dumps({"n": n}) for n in range(4)) + "\n")
    definition = distributed(PASS, ItemReader=reader("jsonl/facts.jsonl", bucket, InputType="JSONL"))
    assert output(run(cloud, definition)) == [{"n": n} for n in range(4)]


def test_a_csv_file_with_its_header_in_the_first_row(cloud: LocalCloud, bucket: str) -> None:
    """AWS ItemReader, CSV with CSVHeaderLocation FIRST_ROW: fields are strings, quotes may hold the
    delimiter, a short row gets empty strings and a long row loses its extra fields."""
    put(
        cloud, bucket, "csv/ratings.csv", 'userId,movieId,title\n1,307,"Heat, 1995"\n2,481\n3,1091,Up,extra\n'
    )
    definition = distributed(
        PASS, ItemReader=reader("csv/ratings.csv", bucket, InputType="CSV", CSVHeaderLocation="FIRST_ROW")
    )
    assert output(run(cloud, definition)) == [
        {"userId": "1", "movieId": "307", "title": "Heat, 1995"},
        {"userId": "2", "movieId": "481", "title": ""},
        {"userId": "3", "movieId": "1091", "title": "Up"},
    ]


def test_a_csv_file_with_given_headers_and_a_pipe_delimiter(cloud: LocalCloud, bucket: str) -> None:
    """AWS ItemReader, CSVHeaderLocation GIVEN: CSVHeaders name the columns of every row (there is
    no header row), and CSVDelimiter PIPE splits the fields."""
    put(cloud, bucket, "csv/given.psv", "1|307|3.5\n1|481|4\n")
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVDelimiter": "PIPE"}
    config["CSVHeaders"] = ["userId", "movieId", "rating"]
    definition = distributed(PASS, ItemReader=reader("csv/given.psv", bucket, **config))
    assert output(run(cloud, definition)) == [
        {"userId": "1", "movieId": "307", "rating": "3.5"},
        {"userId": "1", "movieId": "481", "rating": "4"},
    ]


def test_an_s3_inventory_manifest_gives_the_objects_it_lists(cloud: LocalCloud, bucket: str) -> None:
    """AWS ItemReader, InputType MANIFEST: the S3 inventory manifest.json names gzipped CSV files in
    its destination bucket; each row is an item keyed by the manifest's fileSchema."""
    rows = (
        '"src","csvDataset/titles.csv","3399671","2022-11-16T00:29:32.000Z"\n"src","img/a.jpg","27034","x"\n'
    )
    put(cloud, bucket, "inventory/data/part-0.csv.gz", gzip.compress(rows.encode()))
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inventory/data/part-0.csv.gz", "size": 60, "MD5checksum": "-"}],
    }
    put(cloud, bucket, "inventory/manifest.json", json.dumps(manifest))
    definition = distributed(PASS, ItemReader=reader("inventory/manifest.json", bucket, InputType="MANIFEST"))
    first, second = output(run(cloud, definition))
    assert first == {
        "Bucket": "src",
        "Key": "csvDataset/titles.csv",
        "Size": "3399671",
        "LastModifiedDate": "2022-11-16T00:29:32.000Z",
    }
    assert second["Key"] == "img/a.jpg"


def test_list_objects_v2_gives_each_object_under_the_prefix(cloud: LocalCloud, bucket: str) -> None:
    """AWS ItemReader, s3:listObjectsV2: one item per object under the Prefix, each
    {"Etag", "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}."""
    for key in ("images/a.jpg", "images/b.jpg", "other/c.jpg"):
        put(cloud, bucket, key, b"1234")
    definition = distributed(
        PASS,
        ItemReader={
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": bucket, "Prefix": "images/"},
        },
    )
    items = output(run(cloud, definition))
    assert [i["Key"] for i in items] == ["images/a.jpg", "images/b.jpg"]
    assert set(items[0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert isinstance(items[0]["LastModified"], int) and items[0]["Size"] == 4


def test_a_missing_object_fails_the_map_with_item_reader_failed(cloud: LocalCloud, bucket: str) -> None:
    """AWS: when the ItemReader cannot read its dataset the Map state fails with States.ItemReaderFailed."""
    definition = distributed(PASS, ItemReader=reader("nowhere.json", bucket, InputType="JSON"))
    described = run(cloud, definition)
    assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")


# --- ItemBatcher -----------------------------------------------------------------------------------


def test_item_batcher_gives_each_child_a_batch_and_the_batch_input(cloud: LocalCloud) -> None:
    """AWS ItemBatcher: with batching each child receives {"Items": [...]} of at most MaxItemsPerBatch
    items, and BatchInput (a payload template) under "BatchInput"."""
    batcher = {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run", "fixed": 1}}
    definition = distributed(PASS, ItemsPath="$.items", ItemBatcher=batcher)
    result = output(run(cloud, definition, {"run": "r1", "items": [1, 2, 3, 4, 5]}))
    assert result == [
        {"BatchInput": {"run": "r1", "fixed": 1}, "Items": [1, 2]},
        {"BatchInput": {"run": "r1", "fixed": 1}, "Items": [3, 4]},
        {"BatchInput": {"run": "r1", "fixed": 1}, "Items": [5]},
    ]


def test_item_batcher_keeps_each_batch_under_max_input_bytes(cloud: LocalCloud) -> None:
    """AWS ItemBatcher: MaxInputBytesPerBatch bounds the size of each child's batch in bytes."""
    items = ["x" * 40 for _ in range(6)]  # 42 bytes each as JSON
    definition = distributed(PASS, ItemBatcher={"MaxInputBytesPerBatch": 100})
    batches = output(run(cloud, definition, items))
    assert [len(b["Items"]) for b in batches] == [2, 2, 2]
    assert all(len(json.dumps(b, separators=(",", ":"))) <= 100 for b in batches)


# --- child executions, concurrency, the Map Run API --------------------------------------------------


def test_each_child_is_an_execution_of_the_map_runs_state_machine(cloud: LocalCloud) -> None:
    """AWS: each child workflow execution has its own input, output and history; ListExecutions with a
    mapRunArn lists them (with their itemCount), DescribeExecution names their mapRunArn, and the Map
    Run's state machine is <machine>/<label>; ListStateMachines does not list it."""
    definition = distributed(
        {"StartAt": "Tag", "States": {"Tag": {"Type": "Pass", "Parameters": {"seen.$": "$.n"}, "End": True}}},
        Label="Tagging",
    )
    described = run(cloud, definition, [{"n": 1}, {"n": 2}])
    map_run_arn = map_run(cloud, described["executionArn"])
    machine_name = described["stateMachineArn"].split(":")[-1]
    sfn = client(cloud, "stepfunctions")
    listed = sfn.list_executions(mapRunArn=map_run_arn)["executions"]
    assert {e["itemCount"] for e in listed} == {1} and {e["mapRunArn"] for e in listed} == {map_run_arn}
    assert {e["stateMachineArn"].split(":stateMachine:")[1] for e in listed} == {f"{machine_name}/Tagging"}
    pairs = sorted(
        (json.loads(c["input"])["n"], json.loads(c["output"])) for c in children(cloud, map_run_arn)
    )
    assert pairs == [(1, {"seen": 1}), (2, {"seen": 2})]
    child = children(cloud, map_run_arn)[0]
    assert child["mapRunArn"] == map_run_arn and ":execution:" in child["executionArn"]
    history = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
    assert history[0]["type"] == "ExecutionStarted"
    machines = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert machine_name in machines and f"{machine_name}/Tagging" not in machines
    assert output(described) == [{"seen": 1}, {"seen": 2}]


def test_express_children_are_express_executions(cloud: LocalCloud) -> None:
    """AWS: ProcessorConfig ExecutionType EXPRESS starts Express child workflow executions, which a
    Map Run still lists with their input and output."""
    definition = distributed(PASS, execution_type="EXPRESS")
    described = run(cloud, definition, [{"n": 1}, {"n": 2}, {"n": 3}])
    assert output(described) == [{"n": 1}, {"n": 2}, {"n": 3}]
    express = children(cloud, map_run(cloud, described["executionArn"]))
    assert len(express) == 3 and all(":express:" in c["executionArn"] for c in express)
    assert sorted(json.loads(c["output"])["n"] for c in express) == [1, 2, 3]


def _most_at_once(children_described: list[dict[str, Any]]) -> int:
    moments = [(c["startDate"].timestamp(), 1) for c in children_described]
    moments += [(c["stopDate"].timestamp(), -1) for c in children_described]
    running = most = 0
    for _, step in sorted(moments):  # at one instant a stop (-1) sorts before a start
        running += step
        most = max(most, running)
    return most


def test_max_concurrency_bounds_the_children_running_at_once(cloud: LocalCloud) -> None:
    """AWS: MaxConcurrency is the most child workflow executions a Map Run runs in parallel."""
    described = run(cloud, distributed(WAIT, MaxConcurrency=2), list(range(6)))
    assert output(described) == list(range(6))
    ran = children(cloud, map_run(cloud, described["executionArn"]))
    assert len(ran) == 6
    assert _most_at_once(ran) == 2


def test_the_map_run_api_describes_lists_and_updates_a_map_run(cloud: LocalCloud) -> None:
    """AWS DescribeMapRun / ListMapRuns / UpdateMapRun: a running Map Run is described with its
    status, item and execution counts, tolerated failures and maxConcurrency; UpdateMapRun changes
    maxConcurrency and the tolerated failures of the run in progress."""
    sfn = client(cloud, "stepfunctions")
    slow = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 30, "End": True}}}  # 0.3 s
    definition = distributed(slow, MaxConcurrency=1, ToleratedFailureCount=0)
    machine = sfn.create_state_machine(name="dmap-updated", definition=json.dumps(definition), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(list(range(8))))[
        "executionArn"
    ]
    deadline = time.monotonic() + 10
    while not sfn.list_map_runs(executionArn=arn)["mapRuns"] and time.monotonic() < deadline:
        time.sleep(0.01)
    map_run_arn = map_run(cloud, arn)
    running = sfn.describe_map_run(mapRunArn=map_run_arn)
    while (
        running["executionCounts"]["running"] == 0 and time.monotonic() < deadline
    ):  # the first child starts
        running = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert (running["status"], running["maxConcurrency"], running["executionCounts"]["running"]) == (
        "RUNNING",
        1,
        1,
    )
    counts = running["itemCounts"]
    assert (counts["total"], counts["pending"] + counts["running"] + counts["succeeded"]) == (8, 8)
    sfn.update_map_run(mapRunArn=map_run_arn, maxConcurrency=4, toleratedFailureCount=2)
    updated = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert (updated["maxConcurrency"], updated["toleratedFailureCount"]) == (4, 2)
    done = cloud.wait_for_execution(arn, timeout=30)
    assert done["status"] == "SUCCEEDED"
    final = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert final["status"] == "SUCCEEDED" and final["stopDate"] >= final["startDate"]
    assert final["itemCounts"]["succeeded"] == 8 and final["executionCounts"]["running"] == 0
    assert _most_at_once(children(cloud, map_run_arn)) > 1  # the update let more run at once


def test_stopping_the_parent_aborts_the_map_run_and_its_children(cloud: LocalCloud) -> None:
    """AWS MapRunExecutionCounts: children stopped by the user or by Step Functions are aborted; a
    Map Run whose execution is stopped is ABORTED, and starts no more children."""
    sfn = client(cloud, "stepfunctions")
    slow = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3000, "End": True}}}  # 30 s
    machine = sfn.create_state_machine(
        name="dmap-stopped", definition=json.dumps(distributed(slow, MaxConcurrency=2)), roleArn=ROLE
    )
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(list(range(5))))[
        "executionArn"
    ]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = sfn.list_map_runs(executionArn=arn)["mapRuns"]
        if runs and sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["executionCounts"]["running"] == 2:
            break
        time.sleep(0.01)
    sfn.stop_execution(executionArn=arn)
    assert cloud.wait_for_execution(arn, timeout=30)["status"] == "ABORTED"
    map_run_arn = map_run(cloud, arn)
    while (
        sfn.describe_map_run(mapRunArn=map_run_arn)["status"] == "RUNNING"
        and time.monotonic() < deadline + 20
    ):
        time.sleep(0.01)
    details = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert details["status"] == "ABORTED"
    assert (details["executionCounts"]["aborted"], details["itemCounts"]["pending"]) == (2, 3)
    assert {c["status"] for c in children(cloud, map_run_arn)} == {"ABORTED"}


# --- tolerated failures ----------------------------------------------------------------------------


def items_failing(failing: set[int], total: int) -> list[dict[str, Any]]:
    return [{"n": n, "fail": n in failing} for n in range(total)]


def test_a_failed_child_fails_the_map_when_no_failure_is_tolerated(cloud: LocalCloud) -> None:
    """AWS Distributed Map failure threshold: by default no failed item is tolerated, and a Map Run
    that exceeds its threshold fails the Map state with States.ExceedToleratedFailureThreshold."""
    described = run(cloud, distributed(CHOOSE), items_failing({1}, 3))
    assert (described["status"], described["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert described["cause"] == "The specified tolerated failure threshold was exceeded"
    details = client(cloud, "stepfunctions").describe_map_run(
        mapRunArn=map_run(cloud, described["executionArn"])
    )
    assert details["status"] == "FAILED" and details["itemCounts"]["failed"] == 1


def test_failures_within_the_tolerated_count_let_the_map_succeed(cloud: LocalCloud) -> None:
    """AWS ToleratedFailureCount: the Map Run fails only once more items failed than the count; a
    tolerated failed child stays in the result as its execution record, with its Error and Cause."""
    described = run(cloud, distributed(CHOOSE, ToleratedFailureCount=2), items_failing({0, 3}, 5))
    result = output(described)
    assert [r["n"] for r in result if "n" in r] == [1, 2, 4]
    failed = [r for r in result if "Status" in r]
    assert [(r["Status"], r["Error"], r["Cause"]) for r in failed] == [
        ("FAILED", "Boom", "this item fails")
    ] * 2
    assert sorted(json.loads(r["Input"])["n"] for r in failed) == [0, 3]


def test_failures_past_the_tolerated_count_fail_the_map(cloud: LocalCloud) -> None:
    """AWS ToleratedFailureCount: one failed item more than the count fails the Map Run."""
    described = run(cloud, distributed(CHOOSE, ToleratedFailureCount=1), items_failing({0, 3}, 5))
    assert (described["status"], described["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_the_tolerated_percentage_counts_failed_items_of_all_items(cloud: LocalCloud) -> None:
    """AWS ToleratedFailurePercentage: the failed items' share of all items may reach, not exceed,
    the percentage."""
    within = run(cloud, distributed(CHOOSE, ToleratedFailurePercentage=25), items_failing({1}, 4))
    assert within["status"] == "SUCCEEDED"
    past = run(cloud, distributed(CHOOSE, ToleratedFailurePercentage=25), items_failing({1, 2}, 4))
    assert (past["status"], past["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_a_catch_on_the_map_catches_the_exceeded_threshold(cloud: LocalCloud) -> None:
    """AWS: States.ExceedToleratedFailureThreshold is an error of the Map state, which its Catch handles."""
    definition = distributed(CHOOSE)
    definition["States"]["Fan out"]["Catch"] = [
        {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Recovered"}
    ]
    del definition["States"]["Fan out"]["End"]
    definition["States"]["Fan out"]["Next"] = "Recovered"
    definition["States"]["Recovered"] = {"Type": "Pass", "End": True}
    assert (
        output(run(cloud, definition, items_failing({0}, 2)))["Error"]
        == "States.ExceedToleratedFailureThreshold"
    )


# --- ResultWriter ------------------------------------------------------------------------------------


def test_result_writer_writes_the_manifest_and_result_files(cloud: LocalCloud, bucket: str) -> None:
    """AWS ResultWriter: the Map's output is the Map Run ARN and ResultWriterDetails (Bucket, the
    manifest's Key <Prefix>/<map run id>/manifest.json); the manifest lists SUCCEEDED_0.json and
    FAILED_0.json, each child with its input, status, output or Error and Cause."""
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "runs"}}
    definition = distributed(CHOOSE, ToleratedFailureCount=1, ResultWriter=writer)
    result = output(run(cloud, definition, items_failing({2}, 3)))
    map_run_id = result["MapRunArn"].rsplit(":", 1)[1]
    assert result["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"runs/{map_run_id}/manifest.json"}
    manifest = read_json(cloud, bucket, result["ResultWriterDetails"]["Key"])
    assert (manifest["DestinationBucket"], manifest["MapRunArn"]) == (bucket, result["MapRunArn"])
    assert manifest["ResultFiles"]["PENDING"] == []
    [succeeded_file] = manifest["ResultFiles"]["SUCCEEDED"]
    [failed_file] = manifest["ResultFiles"]["FAILED"]
    assert succeeded_file["Key"] == f"runs/{map_run_id}/SUCCEEDED_0.json"
    succeeded = read_json(cloud, bucket, succeeded_file["Key"])
    assert sorted(json.loads(r["Output"])["n"] for r in succeeded) == [0, 1]
    assert {r["Status"] for r in succeeded} == {"SUCCEEDED"}
    assert {"ExecutionArn", "Input", "Name", "StartDate", "StopDate", "StateMachineArn"} <= set(succeeded[0])
    [failed] = read_json(cloud, bucket, failed_file["Key"])
    assert (failed["Status"], failed["Error"], failed["Cause"]) == ("FAILED", "Boom", "this item fails")
    assert json.loads(failed["Input"]) == {"n": 2, "fail": True}


def test_items_never_started_are_written_as_pending_when_the_map_run_fails(
    cloud: LocalCloud, bucket: str
) -> None:
    """AWS ResultWriter: PENDING_n.json holds the items whose children were never started because the
    Map Run failed, and the results are written though the Map fails."""
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": bucket, "Prefix": "failing/"},
    }
    definition = distributed(CHOOSE, MaxConcurrency=1, ResultWriter=writer)
    described = run(cloud, definition, items_failing({0}, 4))
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    map_run_id = map_run(cloud, described["executionArn"]).rsplit(":", 1)[1]
    manifest = read_json(cloud, bucket, f"failing/{map_run_id}/manifest.json")
    [failed] = read_json(cloud, bucket, manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert failed["Error"] == "Boom"
    pending = read_json(cloud, bucket, manifest["ResultFiles"]["PENDING"][0]["Key"])
    assert [json.loads(p["Input"])["n"] for p in pending] == [1, 2, 3]
    assert {p["Status"] for p in pending} == {"PENDING"}


def test_writer_config_flattens_the_children_outputs(cloud: LocalCloud, bucket: str) -> None:
    """AWS ResultWriter WriterConfig: Transformation FLATTEN flattens the children's array outputs,
    OutputType JSONL writes them as JSON Lines; a WriterConfig alone shapes the Map's own output."""
    pair = {
        "StartAt": "Pair",
        "States": {"Pair": {"Type": "Pass", "Parameters": {"pair.$": "States.Array($, $)"}}},
    }
    pair["States"]["Pair"].update({"OutputPath": "$.pair", "End": True})
    preview = distributed(
        pair, ResultWriter={"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}
    )
    assert output(run(cloud, preview, [1, 2])) == [1, 1, 2, 2]
    writer = {
        "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"},
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": bucket, "Prefix": "compact"},
    }
    result = output(run(cloud, distributed(pair, ResultWriter=writer), [1, 2]))
    manifest = read_json(cloud, bucket, result["ResultWriterDetails"]["Key"])
    body = client(cloud, "s3").get_object(Bucket=bucket, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    assert sorted(json.loads(line) for line in body["Body"].read().decode().splitlines()) == [[1, 1], [2, 2]]


# --- JSONata, and the startExecution Task ------------------------------------------------------------


def test_a_jsonata_distributed_map_reads_selects_and_batches(cloud: LocalCloud, bucket: str) -> None:
    """AWS, JSONata: ItemReader takes Arguments, ItemSelector reads $states.context.Map.Item, and
    BatchInput and MaxItemsPerBatch may be {% %} expressions."""
    put(cloud, bucket, "jsonata/items.json", json.dumps(["a", "b", "c"]))
    definition = distributed(
        PASS,
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Arguments": {"Bucket": bucket, "Key": "{% $states.input.key %}"},
        },
        ItemSelector={
            "value": "{% $states.context.Map.Item.Value %}",
            "at": "{% $states.context.Map.Item.Index %}",
        },
        ItemBatcher={
            "MaxItemsPerBatch": "{% $states.input.size %}",
            "BatchInput": {"by": "{% $states.input.who %}"},
        },
    )
    definition["QueryLanguage"] = "JSONata"
    result = output(run(cloud, definition, {"key": "jsonata/items.json", "size": 2, "who": "me"}))
    assert result == [
        {"BatchInput": {"by": "me"}, "Items": [{"value": "a", "at": 0}, {"value": "b", "at": 1}]},
        {"BatchInput": {"by": "me"}, "Items": [{"value": "c", "at": 2}]},
    ]


def test_a_start_execution_task_starts_another_state_machine(cloud: LocalCloud) -> None:
    """AWS states:startExecution (request-response): StateMachineArn, Input and Name go to
    StartExecution, and the Task's result is {"ExecutionArn", "StartDate"} (epoch milliseconds)."""
    sfn = client(cloud, "stepfunctions")
    child = sfn.create_state_machine(name="dmap-child", definition=json.dumps(PASS), roleArn=ROLE)
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {
            "StateMachineArn": child["stateMachineArn"],
            "Input": {"from": "parent"},
            "Name": "kid-1",
        },
        "End": True,
    }
    result = output(run(cloud, {"StartAt": "Start", "States": {"Start": task}}))
    assert set(result) == {"ExecutionArn", "StartDate"} and result["ExecutionArn"].endswith(":kid-1")
    assert isinstance(result["StartDate"], int) and result["StartDate"] > 1_600_000_000_000
    started = cloud.wait_for_execution(result["ExecutionArn"], timeout=30)
    assert json.loads(started["output"]) == {"from": "parent"}


# --- at scale ----------------------------------------------------------------------------------------


def test_two_hundred_items_from_jsonl_with_tolerated_failures_and_a_result_writer(
    cloud: LocalCloud, bucket: str
) -> None:
    """AWS, end to end: 200 JSONL items, every 20th failing within ToleratedFailureCount, results
    written by ResultWriter; the local cloud runs it in seconds."""
    lines = "\n".join(json.dumps({"n": n, "fail": n % 20 == 0}) for n in range(200))
    put(cloud, bucket, "scale/items.jsonl", lines)
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": bucket, "Prefix": "scale"},
    }
    definition = distributed(
        CHOOSE,
        ItemReader=reader("scale/items.jsonl", bucket, InputType="JSONL"),
        ToleratedFailureCount=10,
        MaxConcurrency=50,
        ResultWriter=writer,
    )
    started = time.perf_counter()
    described = run(cloud, definition)
    seconds = time.perf_counter() - started
    result = output(described)
    manifest = read_json(cloud, bucket, result["ResultWriterDetails"]["Key"])
    succeeded = read_json(cloud, bucket, manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    failed = read_json(cloud, bucket, manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert (len(succeeded), len(failed)) == (190, 10)
    counts = client(cloud, "stepfunctions").describe_map_run(mapRunArn=result["MapRunArn"])["itemCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (190, 10, 200)
    print(f"200-item Distributed Map: {seconds:.2f} s")
    assert seconds < 30
