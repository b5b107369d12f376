"""act's adapters: the only code of this function that talks to AWS."""

from __future__ import annotations

import json
from typing import Any

from aiflows_runtime import bus
from aiflows_runtime.actions import PutEvent, WriteRecord
from aiflows_runtime.state.items import to_item


def put_event(events: Any, bus_name: str | None, effect: PutEvent) -> str:
    return bus.put_event(events, bus_name, effect.source, effect.detail_type, effect.detail)


def write_record(dynamodb: Any, table_name: str, effect: WriteRecord) -> str:
    item = {
        "pk": effect.key,
        "sk": "record",
        "record_type": effect.record_type,
        # as UTF-8, not ASCII-escaped: escaped, non-ASCII text takes up to three times its bytes, and the
        # data a state may carry (256 KB) would no longer fit the 400 KB a DynamoDB item holds
        "data": json.dumps(effect.data, sort_keys=True, ensure_ascii=False),
    }
    dynamodb.put_item(TableName=table_name, Item=to_item(item))
    return effect.key
