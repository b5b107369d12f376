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
"""

from __future__ import annotations

import functools
import threading
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
