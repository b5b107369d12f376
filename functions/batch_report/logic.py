"""batch_report, pure domain code: a Map Run's result records, counted and explained.

A Distributed Map's ResultWriter writes ``manifest.json`` and the records of its child
executions by status (``SUCCEEDED``, ``FAILED``, ``PENDING``), each with the child's
``Input`` and ``Output`` as JSON strings and, for a failure, its ``Error`` and ``Cause``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .contract import BatchFailure

FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def document_id(record: dict[str, Any]) -> str | None:
    """The document a child worked on: its input's ``document.document_id``."""
    item = _json(record.get("Input"))
    document = item.get("document") if isinstance(item, dict) else None
    found = document.get("document_id") if isinstance(document, dict) else None
    return str(found) if found is not None else None


def cost_usd(records: list[dict[str, Any]]) -> float:
    """What the children cost, from the ``cost_usd`` each one's output carries."""
    total = Decimal(0)
    for record in records:
        output = _json(record.get("Output"))
        if isinstance(output, dict) and isinstance(output.get("cost_usd"), int | float):
            total += Decimal(str(output["cost_usd"]))
    return float(round(total, 6))


def failures(by_status: dict[str, list[dict[str, Any]]]) -> list[BatchFailure]:
    """Every record that is not a success, pending ones included, with its error."""
    found: list[BatchFailure] = []
    for status in (*FAILED_STATUSES, "PENDING"):
        for record in by_status.get(status, []):
            found.append(
                BatchFailure(
                    document_id=document_id(record),
                    status=record.get("Status", status) if status != "PENDING" else "PENDING",
                    error=record.get("Error"),
                    cause=record.get("Cause"),
                )
            )
    return found


def records_by_status(files: dict[str, list[list[dict[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    """The records of the manifest's files, by the status a record has (FAILED files hold all three)."""
    by_status: dict[str, list[dict[str, Any]]] = {}
    for listed_as, contents in files.items():
        for records in contents:
            for record in records:
                status = str(record.get("Status") or listed_as)
                by_status.setdefault(status if listed_as != "PENDING" else "PENDING", []).append(record)
    return by_status
