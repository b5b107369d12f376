"""Putting an event on the flows' bus, and knowing that it got there.

``PutEvents`` answers HTTP 200 even when the bus refused an entry: the refusal is in
``FailedEntryCount`` and the entry's ``ErrorCode``. Every event a function puts goes
through :func:`put_event`, which turns a refused entry into :class:`EventNotDelivered`,
a transient error the step's Retry repeats (and, when it persists, the flow's
failure path announces), so a lost event is never silent.
"""

from __future__ import annotations

import json
from typing import Any

from aiflows_runtime.errors import TransientError


class EventNotDelivered(TransientError):
    """The bus refused the event (its ErrorCode and ErrorMessage say why)."""


def put_event(
    events: Any, bus_name: str | None, source: str, detail_type: str, detail: dict[str, Any]
) -> str:
    """Put one event; its event id. :class:`EventNotDelivered` when the bus refused it."""
    if not bus_name:
        raise RuntimeError(f"no bus to put {detail_type} on: the function's EVENT_BUS_NAME is not set")
    answer = events.put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, sort_keys=True, ensure_ascii=False),  # EventBridge counts bytes
            }
        ]
    )
    entry = (answer.get("Entries") or [{}])[0]
    if answer.get("FailedEntryCount") or not entry.get("EventId"):
        raise EventNotDelivered(
            f"the bus {bus_name} refused {detail_type} from {source}: "
            f"{entry.get('ErrorCode', 'no event id')} {entry.get('ErrorMessage', '')}".rstrip()
        )
    return str(entry["EventId"])
