"""DynamoDB in the local cloud: writes that race are atomic, as on AWS (patches/dynamodb.py)."""

from __future__ import annotations

import json
import threading
from typing import Any

from aiflows.testing import state_table_like_the_stacks
from aiflows_runtime.state import DynamoDBLedger, OverBudget
from localcloud import Deployment, LocalCloud


def test_two_conditional_updates_that_race_cannot_both_pass_on_one_old_value() -> None:
    # AWS: individual write operations such as UpdateItem are atomic and always operate on the
    # most recent version of the item, regardless of concurrency.
    with LocalCloud() as cloud:
        table = state_table_like_the_stacks(cloud.client("dynamodb"), "atomic")
        granted, refused = [], []
        lock, barrier = threading.Lock(), threading.Barrier(12)

        def branch() -> None:
            ledger = DynamoDBLedger(table, client=cloud.client("dynamodb"))  # a client per caller
            barrier.wait()
            try:
                ledger.hold("run-1", 0.25, budget_usd=1.0)
                outcome = granted
            except OverBudget:
                outcome = refused
            with lock:
                outcome.append(1)

        threads = [threading.Thread(target=branch) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert (len(granted), len(refused)) == (4, 8)
        assert DynamoDBLedger(table, client=cloud.client("dynamodb")).total("run-1").committed_usd == 1.0


def test_numbers_add_up_exactly_through_zero_and_tiny_values() -> None:
    # AWS: a number is an exact decimal of up to 38 digits; ADD adds it to the attribute's value
    with LocalCloud() as cloud:
        ddb = cloud.client("dynamodb")
        table = state_table_like_the_stacks(ddb, "numbers")
        key = {"pk": {"S": "n"}, "sk": {"S": "n"}}
        for change in ("0.1", "-0.1", "1E-7", "-0.0000001", "0.00015920000000000002"):
            ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="ADD amount :change",
                ExpressionAttributeValues={":change": {"N": change}},
            )
        assert ddb.get_item(TableName=table, Key=key)["Item"]["amount"] == {"N": "0.00015920000000000002"}


def test_a_cancelled_transaction_leaves_every_item_as_it_was() -> None:
    # AWS: TransactWriteItems completes its actions atomically, so that either all of them
    # succeed or none of them does (API reference); the local cloud puts back the items it named
    with LocalCloud() as cloud:
        ddb = cloud.client("dynamodb")
        table = state_table_like_the_stacks(ddb, "transactions")
        for n in range(50):  # a table with more in it than the transaction touches
            ddb.put_item(
                TableName=table, Item={"pk": {"S": f"other#{n}"}, "sk": {"S": "x"}, "n": {"N": str(n)}}
            )
        ddb.put_item(TableName=table, Item={"pk": {"S": "total"}, "sk": {"S": "x"}, "n": {"N": "1"}})
        before = sorted(map(str, ddb.scan(TableName=table)["Items"]))
        new = {"pk": {"S": "line"}, "sk": {"S": "1"}}
        total = {"pk": {"S": "total"}, "sk": {"S": "x"}}
        writes = [  # a line, the total it adds to, an item deleted
            {"Put": {"TableName": table, "Item": {**new, "cost": {"N": "2"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": total,
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "other#3"}, "sk": {"S": "x"}}}},
        ]
        try:
            ddb.transact_write_items(
                TransactItems=[
                    *writes,
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "other#4"}, "sk": {"S": "x"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ddb.exceptions.TransactionCanceledException as cancelled:
            reasons = [r["Code"] for r in cancelled.response["CancellationReasons"]]
        else:
            raise AssertionError("the transaction's condition held")
        assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
        assert sorted(map(str, ddb.scan(TableName=table)["Items"])) == before
        # And the same transaction without the failing check writes all three
        ddb.transact_write_items(TransactItems=writes)
        assert ddb.get_item(TableName=table, Key=total)["Item"]["n"] == {"N": "2"}
        assert "Item" in ddb.get_item(TableName=table, Key=new)
        assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "other#3"}, "sk": {"S": "x"}})


def test_the_deployed_state_table_has_the_ttl_and_recovery_its_template_enables(
    cloud: LocalCloud, app: Deployment
) -> None:
    # AWS::DynamoDB::Table: TimeToLiveSpecification and PointInTimeRecoverySpecification are the
    # table's TTL and point-in-time recovery (CloudFormation reference); the stack enables both
    ddb, table = cloud.client("dynamodb"), app.outputs["StateTableName"]
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_a_stack_update_changes_the_tables_ttl_and_recovery_in_place(cloud: LocalCloud) -> None:
    # AWS::DynamoDB::Table (CloudFormation reference): TimeToLiveSpecification and
    # PointInTimeRecoverySpecification, "Update requires: No interruption": the same table takes the
    # new settings (moto had no update for a table; its stack lost the table's place)
    def template(ttl: dict[str, object] | None, recovery: dict[str, object] | None) -> str:
        properties: dict[str, object] = {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if ttl is not None:
            properties["TimeToLiveSpecification"] = ttl
        if recovery is not None:
            properties["PointInTimeRecoverySpecification"] = recovery
        return json.dumps(
            {
                "Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": properties}},
                "Outputs": {"Table": {"Value": {"Ref": "Table"}}},
            }
        )

    cfn, ddb = cloud.client("cloudformation"), cloud.client("dynamodb")

    def deployed(call: Any, body: str) -> str:
        call(StackName="TtlUpdates", TemplateBody=body)
        [stack] = cfn.describe_stacks(StackName="TtlUpdates")["Stacks"]
        assert stack["StackStatus"].endswith("_COMPLETE") and "ROLLBACK" not in stack["StackStatus"], stack
        return str(stack["Outputs"][0]["OutputValue"])

    def settings(table: str) -> tuple[dict[str, Any], dict[str, Any]]:
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        return ttl, backups["PointInTimeRecoveryDescription"]

    # Given a table created without either
    table = deployed(cfn.create_stack, template(None, None))
    ttl, recovery = settings(table)
    assert ttl["TimeToLiveStatus"] == "DISABLED" and recovery["PointInTimeRecoveryStatus"] == "DISABLED"
    # When an update enables both
    enabled = template({"AttributeName": "expires_at", "Enabled": True}, {"PointInTimeRecoveryEnabled": True})
    assert deployed(cfn.update_stack, enabled) == table  # the same table, no replacement
    ttl, recovery = settings(table)
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    assert recovery["EarliestRestorableDateTime"] <= recovery["LatestRestorableDateTime"]
    # And another turns them off again (TTL disabled, recovery left out: the default, disabled)
    deployed(cfn.update_stack, template({"AttributeName": "expires_at", "Enabled": False}, None))
    ttl, recovery = settings(table)
    assert ttl["TimeToLiveStatus"] == "DISABLED" and recovery["PointInTimeRecoveryStatus"] == "DISABLED"
    assert ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
