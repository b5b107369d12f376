"""Feedback that is kept: every decision and correction, and an evaluation dataset of them.

Each decision is stored with who made it, when, and what changed (each edited field
with the model's value before and the reviewer's after). The same record is one line
of the evaluation dataset (JSONL): what the models said, and what a person said of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.state import Review, dynamodb_client, keys
from aiflows_runtime.state.items import from_item, to_item, values


def changes(review: Review, decision: ReviewDecision) -> dict[str, dict[str, Any]]:
    """Each edited field, with the model's value before and the reviewer's after."""
    extracted = review.details.get("fields") or {}
    return {
        name: {"before": (extracted.get(name) or {}).get("value"), "after": value}
        for name, value in sorted(decision.edits.items())
    }


def evaluation_line(review: Review, decision: ReviewDecision, decided_at: float) -> dict[str, Any]:
    details = review.details
    subject = details.get("subject") or {}
    return {
        "id": review.review_id,
        "flow": details.get("flow"),
        "correlation_id": details.get("correlation_id"),
        "subject": {"id": subject.get("id"), "kind": subject.get("kind")},
        "tenant": subject.get("tenant"),
        "decided_at": decided_at,
        "prompts": sorted({m["prompt_id"] for m in details.get("models") or []}),
        "model_output": {
            "confidence": details.get("confidence"),
            "fields": {k: v.get("value") for k, v in (details.get("fields") or {}).items()},
            "details": details.get("details") or {},
        },
        "human": {
            "reviewer": decision.reviewer,
            "decision": decision.decision,
            "reason": decision.reason,
            "corrections": changes(review, decision),
        },
    }


class FeedbackStore:
    """The feedback dataset, one item per decision, partitioned by the month it was made in.

    The export reads month by month, from the first month with feedback to the last
    asked for: key ranges, never a scan of the table.
    """

    def __init__(self, table_name: str, client: Any = None, clock: Any = time.time) -> None:
        self._table = table_name
        self._ddb = dynamodb_client(client)
        self._clock = clock

    def record(self, review: Review, decision: ReviewDecision) -> dict[str, Any]:
        line = evaluation_line(review, decision, self._clock())
        item = {
            **keys.feedback(line["decided_at"], review.review_id),
            "review_id": review.review_id,
            "reviewer": decision.reviewer,
            "decided_at": line["decided_at"],
            "decision": decision.decision,
            "tenant": review.tenant,
            "line": json.dumps(line, sort_keys=True, ensure_ascii=False),
        }
        self._ddb.put_item(TableName=self._table, Item=to_item(item))
        self._ddb.update_item(
            TableName=self._table,
            Key=to_item(keys.FEEDBACK_MONTHS),
            UpdateExpression="SET first_month = if_not_exists(first_month, :month)",
            ExpressionAttributeValues=values({":month": keys.month(line["decided_at"])}),
        )
        return line

    def months(self, until: float | None = None) -> list[str]:
        """Every month from the first with feedback to ``until`` (now), as ``YYYY-MM``."""
        item = self._ddb.get_item(TableName=self._table, Key=to_item(keys.FEEDBACK_MONTHS)).get("Item")
        if not item:
            return []
        first = from_item(item)["first_month"]
        last = keys.month(self._clock() if until is None else until)
        year, month = (int(part) for part in first.split("-"))
        found = []
        while f"{year:04d}-{month:02d}" <= last:
            found.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found

    def lines(self, since: float | None = None, until: float | None = None) -> Iterator[dict[str, Any]]:
        """The decisions made from ``since`` to ``until`` (both optional), oldest first."""
        # the sort key starts with the time, fixed width: a key range is a time range ("~" sorts last)
        low = f"{since:017.6f}#" if since is not None else "0"
        high = f"{until:017.6f}#~" if until is not None else "~"
        for month in self.months(until):
            if since is not None and month < keys.month(since):
                continue
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues=values(
                    {":pk": keys.feedback_month(month), ":low": low, ":high": high}
                ),
            )
            for page in pages:
                for item in page["Items"]:
                    yield json.loads(from_item(item)["line"])

    def export_jsonl(self, since: float | None = None, until: float | None = None) -> str:
        return "".join(json.dumps(line, sort_keys=True) + "\n" for line in self.lines(since, until))
