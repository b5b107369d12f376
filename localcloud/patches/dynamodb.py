"""DynamoDB in the local cloud: each write is atomic, and numbers add up, as on AWS.

AWS: "Individual write operations such as UpdateItem are atomic and always operate
on the most recent version of the item, regardless of concurrency" (DynamoDB
developer guide, best practices for handling concurrent updates). moto evaluates a
condition and then writes, with nothing between two requests that race: two
``UpdateItem`` calls with ``ConditionExpression`` could both pass on the same old
value, so two branches of a run could both set aside the last of its budget. Here
every write (``PutItem``, ``UpdateItem``, ``DeleteItem``, ``TransactWriteItems``,
``BatchWriteItem``) of one backend runs under one lock, and so does every read, which
must not see a transaction half done.

moto's ``ADD`` (and ``SET a = a + :n``) reads a number without a decimal point as an
``int``, so a number it wrote itself in exponent form (``0E-19``, the sum of ``0.1``
and ``-0.1``) fails the next addition with an HTTP 500. DynamoDB numbers are exact
decimals of up to 38 digits (developer guide, data types); here both operands are
read as decimals and the result written in plain notation.

moto's ``TransactWriteItems`` deep-copies every table it touches, once per action, to roll
back a cancelled transaction: a transaction costs time in proportion to the table, and a
ledger write (two actions) slowed the local cloud down as runs piled up. AWS: "TransactWriteItems
is a synchronous write operation that groups up to 100 action requests ... the actions are
completed atomically so that either all of them succeed, or none of them succeeds" (API
reference). Here the transaction keeps a copy of the items its actions name, and a cancelled
one puts back exactly those: the table is left as it was, at the cost of the items touched.

moto's CloudFormation creates a table without the ``TimeToLiveSpecification`` and the
``PointInTimeRecoverySpecification`` of its template, so ``DescribeTimeToLive`` and
``DescribeContinuousBackups`` said DISABLED for a table the template enables both on.
AWS::DynamoDB::Table: "TimeToLiveSpecification: Specifies the Time to Live (TTL) settings
for the table"; "PointInTimeRecoverySpecification: The settings used to enable point in
time recovery" (CloudFormation reference). Here the table gets both as written, and a stack
update changes them in place ("Update requires: No interruption"); moto had no update for a table
at all (its CloudFormation put None in the stack where the changed table was).
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
# moto's TransactWriteItems copies the whole table for its rollback while it holds no lock: a read
# in another thread that iterated the table then failed with "dictionary changed size". Reads wait too.
READS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    _table_as_its_template_says(patches)
    _roll_back_items_only(patches)  # first: the lock below then covers its copies and its rollback
    lock = threading.RLock()  # a transaction's writes may call the single-item ones
    for name in (*WRITES, *READS):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def atomic(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        patches.replace(DynamoDBBackend, name, atomic)

    from moto.dynamodb.models.dynamo_type import DDBType, DynamoType

    add, subtract = DynamoType.__add__, DynamoType.__sub__

    def number(value: Decimal) -> str:
        return "0" if value == 0 else format(value.normalize(), "f")

    def plus(self: Any, other: Any) -> Any:
        if self.type == other.type == DDBType.NUMBER:
            return DynamoType({DDBType.NUMBER: number(Decimal(self.value) + Decimal(other.value))})
        return add(self, other)

    def minus(self: Any, other: Any) -> Any:
        if self.type == other.type == DDBType.NUMBER:
            return DynamoType({DDBType.NUMBER: number(Decimal(self.value) - Decimal(other.value))})
        return subtract(self, other)

    patches.replace(DynamoType, "__add__", plus)
    patches.replace(DynamoType, "__sub__", minus)


def _roll_back_items_only(patches: Patches) -> None:
    """A cancelled ``TransactWriteItems`` restores the items it named, not a copy of each table."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    # moto's own rollback then puts each table back as it is: the rollback below is the one
    patches.replace(models, "copy", types.SimpleNamespace(deepcopy=deepcopy))
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(
        self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Any:
        kept: list[tuple[Any, Any, Any, Any]] = []  # (table, hash key, range key, the item before)
        for action in transact_items:
            operation: dict[str, Any] = next(iter(action.values()), {})
            table = self.tables.get(operation.get("TableName"))
            key = operation.get("Key") or operation.get("Item") or {}
            if table is None or table.hash_key_attr not in key:
                continue  # moto refuses the transaction before it writes anything
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            if table.range_key_attr is not None and range_key is None:
                continue
            kept.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        try:
            return original(self, transact_items, *args, **kwargs)
        except Exception:
            for table, hash_key, range_key, before in reversed(kept):
                _put_back(table, hash_key, range_key, before)
            raise

    patches.replace(DynamoDBBackend, "transact_write_items", transact_write_items)


def _put_back(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    if range_key is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
        return
    if before is not None:
        table.items[hash_key][range_key] = before
        return
    rows = table.items.get(hash_key)
    if rows is not None:
        rows.pop(range_key, None)
        if not rows:
            del table.items[hash_key]


def _table_as_its_template_says(patches: Patches) -> None:
    """A table CloudFormation creates or updates has the TTL and the point-in-time recovery its template
    gives it."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    create = Table.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        table = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        _recovery_and_ttl(dynamodb_backends[account_id][region_name], table, properties)
        return table

    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # AWS::DynamoDB::Table: TimeToLiveSpecification and PointInTimeRecoverySpecification "Update
        # requires: No interruption": the same table takes them. (moto has no update for a table: its
        # CloudFormation put None in the stack's place of a table whose properties changed.)
        properties = cloudformation_json.get("Properties", {})
        _recovery_and_ttl(dynamodb_backends[account_id][region_name], original_resource, properties)
        return original_resource

    patches.replace(Table, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    patches.replace(Table, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))


def _enabled(value: Any) -> bool:
    return value in (True, "true", "True")


def _recovery_and_ttl(backend: Any, table: Any, properties: dict[str, Any]) -> None:
    """Set the table's TTL and point-in-time recovery as ``properties`` give them (left out: disabled)."""
    ttl = properties.get("TimeToLiveSpecification") or {}
    if _enabled(ttl.get("Enabled")):
        backend.update_time_to_live(table.name, {"AttributeName": ttl["AttributeName"], "Enabled": True})
    elif table.ttl.get("TimeToLiveStatus") == "ENABLED":
        backend.update_time_to_live(
            table.name, {"AttributeName": table.ttl.get("AttributeName", ""), "Enabled": False}
        )
    recovery = properties.get("PointInTimeRecoverySpecification") or {}
    spec: dict[str, Any] = {
        "PointInTimeRecoveryEnabled": _enabled(recovery.get("PointInTimeRecoveryEnabled"))
    }
    if spec["PointInTimeRecoveryEnabled"] and recovery.get("RecoveryPeriodInDays"):
        spec["RecoveryPeriodInDays"] = int(recovery["RecoveryPeriodInDays"])
    backend.update_continuous_backups(table.name, spec)
