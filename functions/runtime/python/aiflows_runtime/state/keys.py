"""The key schema of the state table: every item the runtime keeps, and where it lives.

One table (``pk`` / ``sk``, and the sparse index ``gsi1``: ``gsi1pk`` / ``gsi1sk``)
holds the state that must outlive one Lambda instance. Each function here names one
kind of item; no other module spells a key.

| item | pk | sk |
| --- | --- | --- |
| a model's breaker | ``breaker#<model>`` | ``state`` |
| a cached answer | ``cache#<sha256>`` | ``answer`` |
| a run's model call | ``run#<correlation id>`` | ``call#<time>#<seq>#<capability>#<id>`` |
| a run's guard verdict | ``run#<correlation id>`` | ``guard#<time>#<stage>`` |
| a run's total | ``run#<correlation id>`` | ``total`` |
| a run's current review | ``run#<correlation id>`` | ``review`` |
| a review | ``review#<id>`` | ``review`` |
| the tenants that had reviews (a string set) | ``reviews#tenants`` | ``tenants`` |
| a feedback line | ``feedback#<YYYY-MM>`` | ``<decided at>#<review id>`` |
| a run's audit record (append-only) | ``audit#<correlation id>`` | ``<at>#<unique>`` |
| the first month with feedback | ``feedback`` | ``months`` |
| a long work item's finished chunk | ``work#<work id>`` | ``chunk#<number>`` |
| an event's claim on its run (the flows' ``ClaimEvent``) | ``start#<event id>[#<replay name>]`` | ``start`` |
| an idempotency record (Powertools) | ``idempotency#<capability>...`` | ``idempotency#<capability>...`` |

A pending review is also in ``gsi1`` under ``reviews#PENDING#<tenant>``, oldest first:
deciding or expiring it removes ``gsi1pk``, so the index holds only what waits.
"""

from __future__ import annotations

import time

Key = dict[str, str]

TTL_ATTRIBUTE = "expiration"  # DynamoDB deletes an item some time after this epoch second
PENDING_INDEX = "gsi1"


def breaker(model: str) -> Key:
    return {"pk": f"breaker#{model}", "sk": "state"}


def cache(digest: str) -> Key:
    return {"pk": f"cache#{digest}", "sk": "answer"}


def run(correlation_id: str) -> str:
    return f"run#{correlation_id}"


def run_call(correlation_id: str, at: float, sequence: int, capability: str, call_id: str) -> Key:
    # time, then the writer's sequence: calls within one clock tick keep their order
    return {"pk": run(correlation_id), "sk": f"{CALL}{at:017.6f}#{sequence:08d}#{capability}#{call_id}"}


def run_guard(correlation_id: str, at: float, stage: str) -> Key:
    return {"pk": run(correlation_id), "sk": f"{GUARD}{at:017.6f}#{stage}"}


def run_total(correlation_id: str) -> Key:
    return {"pk": run(correlation_id), "sk": "total"}


def run_review(correlation_id: str) -> Key:
    return {"pk": run(correlation_id), "sk": "review"}


CALL, GUARD = "call#", "guard#"

# Written by the state machines, not by Python (infra.weave): the prefix and sort key are here,
# with the rest of the schema.
EVENT_START, EVENT_START_SORT = "start#", "start"


def review(review_id: str) -> Key:
    return {"pk": f"review#{review_id}", "sk": "review"}


def review_id_of(key: Key) -> str:
    return key["pk"].removeprefix("review#")


REVIEW_TENANTS: Key = {"pk": "reviews#tenants", "sk": "tenants"}


def pending_index(tenant: str) -> str:
    """The ``gsi1pk`` of a pending review of this tenant."""
    return f"reviews#PENDING#{tenant}"


def pending_order(created_at: float, review_id: str) -> str:
    """The ``gsi1sk`` of a pending review: oldest first."""
    return f"{created_at:017.6f}#{review_id}"


def month(at: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(at))


def feedback(decided_at: float, review_id: str) -> Key:
    return {"pk": feedback_month(month(decided_at)), "sk": f"{decided_at:017.6f}#{review_id}"}


def feedback_month(yyyy_mm: str) -> str:
    return f"feedback#{yyyy_mm}"


FEEDBACK_MONTHS: Key = {"pk": "feedback", "sk": "months"}

AUDIT = "audit#"  # the prefix of every audit record's pk: IAM denies changing or deleting one


def audit(correlation_id: str, at: float, unique: str) -> Key:
    return {"pk": f"{AUDIT}{correlation_id}", "sk": f"{at:017.6f}#{unique}"}


def work_chunk(work_id: str, number: int) -> Key:
    return {"pk": f"work#{work_id}", "sk": f"chunk#{number:05d}"}


def idempotency_prefix(capability: str) -> str:
    """What Powertools' idempotency puts before a capability's record keys."""
    return f"idempotency#{capability}"
