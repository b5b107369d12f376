"""Items to and from DynamoDB's attribute-value form, by boto3's own serializers.

boto3's ``TypeSerializer`` refuses floats (they are not exact); a float becomes the
Decimal of its shortest repr, so ``0.1`` is stored as ``0.1``. Read back, a whole
number is an ``int`` and any other number a ``float``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


# boto3 loads on the first item a function reads or writes, not when it imports this (a cold start)
@cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def exact(value: float) -> Decimal:
    """The Decimal of a float's shortest repr: ``0.1`` is ``Decimal("0.1")``, not its binary expansion."""
    return Decimal(repr(value))


def _exact(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return exact(value)
    if isinstance(value, Mapping):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (``{"name": {"S": ...}}``) of plain Python values; ``None`` values are left out."""
    return {name: _serializer().serialize(_exact(v)) for name, v in values.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    """One attribute value, e.g. for ``ExpressionAttributeValues``."""
    return dict(_serializer().serialize(_exact(value)))


def values(named: Mapping[str, Any]) -> dict[str, Any]:
    """``ExpressionAttributeValues`` of plain values: ``{":n": 1}`` → ``{":n": {"N": "1"}}``."""
    return {name: to_value(v) for name, v in named.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python values of a DynamoDB item."""
    return {name: _plain(_deserializer().deserialize(v)) for name, v in item.items()}
