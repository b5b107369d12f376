"""Reviews: the server side of human review, shared by request_review, the review API and the CLI.

A review is stored under a short id. Its task token never leaves this module: it is
written with the review, read back only to answer Step Functions, and expires with
the review's TTL. A review is decided once: a conditional update lets only a
PENDING review move on, so a second click changes nothing.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.errors import TOKEN_GONE, error_code
from aiflows_runtime.state import dynamodb_client

PENDING, DECIDED, EXPIRED = "PENDING", "DECIDED", "EXPIRED"
PENDING_INDEX = "gsi1"  # the state table's sparse index: gsi1pk / gsi1sk, all attributes
REVIEW_TTL_SECONDS = 7 * 24 * 3600  # the longest a flow waits (review, then escalation), with margin
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: ids are read aloud and typed


class ReviewNotFound(Exception):
    pass


class AlreadyDecided(Exception):
    """The review was decided before: nothing changed."""


def new_review_id() -> str:
    return "rv-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class Review:
    review_id: str
    status: str
    created_at: float
    details: dict[str, Any]  # what the reviewer sees: evidence, scores, proposed action
    decision: dict[str, Any] | None


class ReviewStore:
    def __init__(self, table_name: str, client: Any = None, clock: Any = time.time) -> None:
        self._table = table_name
        self._ddb = dynamodb_client(client)
        self._clock = clock

    @staticmethod
    def _key(review_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"review#{review_id}"}, "sk": {"S": "review"}}

    def create(self, task_token: str, details: dict[str, Any]) -> str:
        review_id = new_review_id()
        now = self._clock()
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **self._key(review_id),
                "status": {"S": PENDING},
                "created_at": {"N": repr(now)},
                "task_token": {"S": task_token},
                "details": {"S": json.dumps(details, sort_keys=True)},
                "expiration": {"N": str(int(now + REVIEW_TTL_SECONDS))},
                "gsi1pk": {"S": f"reviews#{PENDING}"},
                "gsi1sk": {"S": f"{now:017.6f}#{review_id}"},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return review_id

    def get(self, review_id: str) -> Review:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(review_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            raise ReviewNotFound(review_id)
        return _review(item)

    def pending(self) -> list[Review]:
        """Pending reviews, oldest first, from the sparse index a decision takes them out of."""
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="gsi1pk = :pending",
            ExpressionAttributeValues={":pending": {"S": f"reviews#{PENDING}"}},
        )
        return [_review(item) for page in pages for item in page["Items"]]

    def count_pending(self) -> int:
        """How many reviews wait, counted by the index without reading them."""
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="gsi1pk = :pending",
            ExpressionAttributeValues={":pending": {"S": f"reviews#{PENDING}"}},
            Select="COUNT",
        )
        return sum(page["Count"] for page in pages)

    def decide(self, decision: ReviewDecision) -> str:
        """Mark the review decided, once; return its task token for the caller to answer."""
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(decision.review_id),
                # leaving the sparse index of pending reviews: REMOVE its key
                UpdateExpression=(
                    "SET #status = :decided, decision = :decision, decided_at = :now REMOVE gsi1pk"
                ),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":decided": {"S": DECIDED},
                    ":pending": {"S": PENDING},
                    ":decision": {"S": decision.model_dump_json()},
                    ":now": {"N": repr(self._clock())},
                },
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                self.get(decision.review_id)  # ReviewNotFound when it never existed
                raise AlreadyDecided(decision.review_id) from None
            raise
        return str(answer["Attributes"]["task_token"]["S"])

    def reopen(self, decision: ReviewDecision) -> None:
        """Undo a decision whose answer could not reach the flow, so that it can be given again."""
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(decision.review_id),
            UpdateExpression="SET #status = :pending, gsi1pk = :index REMOVE decision, decided_at",
            ConditionExpression="#status = :decided AND decision = :decision",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":decided": {"S": DECIDED},
                ":decision": {"S": decision.model_dump_json()},
                ":index": {"S": f"reviews#{PENDING}"},
            },
        )

    def expire(self, review_id: str) -> None:
        """The flow stopped waiting (it timed out or was stopped): the review can no longer be decided."""
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(review_id),
            UpdateExpression="SET #status = :expired REMOVE gsi1pk",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":expired": {"S": EXPIRED}},
        )


def _review(item: dict[str, Any]) -> Review:
    decision = item.get("decision", {}).get("S")
    return Review(
        review_id=item["pk"]["S"].removeprefix("review#"),
        status=item["status"]["S"],
        created_at=float(item["created_at"]["N"]),
        details=json.loads(item["details"]["S"]),
        decision=json.loads(decision) if decision else None,
    )


class FlowNoLongerWaits(Exception):
    """The task token was answered, timed out or stopped: the decision cannot reach the flow."""


def answer_flow(sfn: Any, task_token: str, decision: ReviewDecision) -> None:
    """Answer the waiting flow: the decision is the Review state's result."""
    try:
        sfn.send_task_success(taskToken=task_token, output=decision.model_dump_json())
    except Exception as exc:
        code = error_code(exc)
        if code in TOKEN_GONE:
            raise FlowNoLongerWaits(code) from exc
        raise
