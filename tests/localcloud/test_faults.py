"""The local cloud's fault injection: seeded, bounded, and answered in each service's own format."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aiflows.testing import state_table_like_the_stacks
from localcloud import LocalCloud
from localcloud.faults import Faults, UnknownFault

NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(cloud: LocalCloud) -> Iterator[None]:
    cloud.faults.clear()
    yield
    cloud.faults.clear()


def draws(seed: int) -> list[bool]:
    faults = Faults(seed)
    faults.add("model.throttle", rate=0.5)
    return [faults.strike("model.throttle", "m") for _ in range(40)]


def test_the_same_seed_draws_the_same_faults() -> None:
    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    assert 5 < sum(draws(3)) < 35  # about half


def test_a_fault_strikes_only_its_target_and_at_most_its_limit() -> None:
    faults = Faults()
    faults.add("lambda.crash", target="Worker", limit=2)
    assert not faults.strike("lambda.crash", "AiFlows-ClassifyFunction")
    assert [faults.strike("lambda.crash", "AiFlows-WorkerFunction") for _ in range(3)] == [True, True, False]
    assert faults.injected == {"lambda.crash": 2}
    faults.disarm()
    assert not faults.strike("lambda.crash", "AiFlows-WorkerFunction")
    assert faults.injected == {"lambda.crash": 2}


def test_an_unknown_fault_names_the_ones_there_are() -> None:
    with pytest.raises(UnknownFault, match=r"model\.throttle"):
        Faults().add("model.sulk")
    with pytest.raises(ValueError, match="rate"):
        Faults().add("s3.error", rate=1.5)


def test_dynamodb_throttling_and_conflicts_come_as_dynamodb_sends_them(cloud: LocalCloud) -> None:
    ddb = cloud.client("dynamodb", config=NO_RETRIES)
    table = state_table_like_the_stacks(cloud.client("dynamodb"), "faults")
    cloud.faults.add("dynamodb.throttle", limit=1)
    with pytest.raises(ClientError) as throttled:
        ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert throttled.value.response["ResponseMetadata"]["RequestId"]  # as every AWS answer has one
    cloud.faults.add("dynamodb.conflict", limit=1)
    put = {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}, "sk": {"S": "b"}}}}
    with pytest.raises(ClientError) as conflict:
        ddb.transact_write_items(TransactItems=[put])
    assert conflict.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert conflict.value.response["CancellationReasons"] == [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    ]
    # once the faults are spent, the same calls go through
    ddb.transact_write_items(TransactItems=[put])
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})["Item"]


def test_putevents_refuses_every_entry_it_fails(cloud: LocalCloud) -> None:
    events = cloud.client("events")
    cloud.faults.add("events.put_partial", limit=1)
    entry = {"Source": "tests", "DetailType": "t", "Detail": "{}"}
    answer = events.put_events(Entries=[entry, entry])
    assert answer["FailedEntryCount"] == 2
    assert {e["ErrorCode"] for e in answer["Entries"]} == {"InternalFailure"}
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_s3_answers_slow_down(cloud: LocalCloud) -> None:
    s3 = cloud.client("s3", config=NO_RETRIES)
    s3.create_bucket(Bucket="faults")
    cloud.faults.add("s3.error", limit=1)
    with pytest.raises(ClientError) as slow:
        s3.put_object(Bucket="faults", Key="k", Body=b"x")
    assert slow.value.response["Error"]["Code"] == "SlowDown"
    assert slow.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    s3.put_object(Bucket="faults", Key="k", Body=b"x")
