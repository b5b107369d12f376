"""act's adapters: the only code of this function that talks to AWS."""

from __future__ import annotations

import json
from typing import Any

from aiflows_runtime.actions import PutEvent, WriteRecord


def put_event(events: Any, bus_name: str, effect: PutEvent) -> str:
    answer = events.put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": effect.source,
                "DetailType": effect.detail_type,
                "Detail": json.dumps(effect.detail),
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise RuntimeError(f"the bus refused the event: {answer['Entries']}")
    return str(answer["Entries"][0]["EventId"])


def write_record(dynamodb: Any, table_name: str, effect: WriteRecord) -> str:
    dynamodb.put_item(
        TableName=table_name,
        Item={
            "pk": {"S": effect.key},
            "sk": {"S": "record"},
            "record_type": {"S": effect.record_type},
            "data": {"S": json.dumps(effect.data, sort_keys=True)},
        },
    )
    return effect.key
