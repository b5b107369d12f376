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
from aiflows_runtime.reviews import Review
from aiflows_runtime.state import dynamodb_client


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
    def __init__(self, table_name: str, client: Any = None, clock: Any = time.time) -> None:
        self._table = table_name
        self._ddb = dynamodb_client(client)
        self._clock = clock

    def record(self, review: Review, decision: ReviewDecision) -> dict[str, Any]:
        line = evaluation_line(review, decision, self._clock())
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"feedback#{review.review_id}"},
                "sk": {"S": "decision"},
                "reviewer": {"S": decision.reviewer},
                "decided_at": {"N": repr(line["decided_at"])},
                "decision": {"S": decision.decision},
                "line": {"S": json.dumps(line, sort_keys=True)},
            },
        )
        return line

    def lines(self) -> Iterator[dict[str, Any]]:
        pages = self._ddb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :feedback)",
            ExpressionAttributeValues={":feedback": {"S": "feedback#"}},
        )
        found = [json.loads(item["line"]["S"]) for page in pages for item in page["Items"]]
        yield from sorted(found, key=lambda line: (line["decided_at"], line["id"]))

    def export_jsonl(self) -> str:
        return "".join(json.dumps(line, sort_keys=True) + "\n" for line in self.lines())
