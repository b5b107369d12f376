"""The DynamoDB adapters of the run's state: one class per interface of :mod:`.ports`.

Each takes the table's name and an optional boto3 DynamoDB client (a test's, a
handler's shared one). Keys come from :mod:`.keys`, attribute values from boto3's
serializers (:mod:`.items`), transactions from :mod:`.transactions`.

Inside an idempotent step (:mod:`.step`), a model call's settling transaction waits for the
completion of the step's idempotency record, and a step that defers its claim lets the claim
wait for its first write. Every request of the adapters first writes what waits: a read writes
the settling transaction (:attr:`_Table._reading`), any other request the claim too
(:attr:`_Table._writing`); the hold of a model call carries a waiting claim in its own request.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from typing import Any

from aiflows_runtime.contracts import ReviewDecision
from aiflows_runtime.errors import error_code

from . import keys
from .items import exact, from_item, to_item, values
from .ports import (
    AUDIT_RETENTION_DAYS,
    DECIDED,
    EXPIRED,
    PENDING,
    AlreadyApproved,
    AlreadyDecided,
    AuditRecord,
    BreakerState,
    BreakerStore,
    CachedAnswer,
    GuardRecord,
    Hold,
    Ledger,
    LedgerEntry,
    OverBudget,
    Review,
    ReviewNotFound,
    RunTotal,
    new_review_id,
    owner_of,
)
from .step import claim_now, defer, flush_deferred, waiting_claim
from .transactions import (
    TRANSACTION_ATTEMPTS,
    TransactionRefused,
    backoff,
    transact,
    write_paid,
)

Clock = Callable[[], float]
_SEQUENCE = itertools.count()
CONDITION_FAILED = "ConditionalCheckFailedException"
CHECKPOINT_TTL_SECONDS = 14 * 24 * 3600  # as long as a redelivered message or a redriven run may come back


def dynamodb_client(client: Any = None) -> Any:
    """The client given (a test's, a handler's shared one), or the environment's DynamoDB client."""
    if client is not None:
        return client
    from aiflows_runtime.clients import client as shared

    return shared("dynamodb")


class _Table:
    def __init__(self, table_name: str, client: Any = None, clock: Clock = time.time) -> None:
        self._table = table_name
        self._client = dynamodb_client(client)
        self._clock = clock

    @property
    def _writing(self) -> Any:
        """The client for a write, once what waits is written (a paid call's line, then the step's
        claim: it must precede any effect a second invocation could repeat)."""
        flush_deferred()
        claim_now()
        return self._client

    @property
    def _reading(self) -> Any:
        """The client for a read: a paid call's line is written first, the step's claim may wait on."""
        flush_deferred()
        return self._client

    def _get(self, key: keys.Key, consistent: bool = True) -> dict[str, Any] | None:
        item = self._reading.get_item(TableName=self._table, Key=to_item(key), ConsistentRead=consistent).get(
            "Item"
        )
        return from_item(item) if item else None

    def _query(self, **query: Any) -> Iterator[dict[str, Any]]:
        for page in self._reading.get_paginator("query").paginate(TableName=self._table, **query):
            for item in page["Items"]:
                yield from_item(item)

    def _named(self, *actions: dict[str, Any]) -> list[dict[str, Any]]:
        """Transaction actions, each naming this table."""
        return [{kind: {**request, "TableName": self._table}} for a in actions for kind, request in a.items()]

    def _transact(self, *actions: dict[str, Any]) -> None:
        """One transaction on this table (:func:`transact`)."""
        transact(self._writing, self._named(*actions))


# --- circuit breaker ---------------------------------------------------------
def _breaker_state(item: dict[str, Any] | None) -> BreakerState:
    if not item:
        return BreakerState()
    known = {f.name for f in fields(BreakerState)}
    return BreakerState(**{k: v for k, v in item.items() if k in known})


class DynamoDBBreakerStore(_Table):
    def read(self, model: str) -> BreakerState:
        return _breaker_state(self._get(keys.breaker(model)))

    def write(self, model: str, state: BreakerState, seen_version: int) -> bool:
        item = {**keys.breaker(model), **asdict(state), "version": seen_version + 1}
        try:
            self._writing.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR version = :seen",
                ExpressionAttributeValues=values({":seen": seen_version}),
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True


# --- response cache ------------------------------------------------------------
class DynamoDBCache(_Table):
    def __init__(self, table_name: str, ttl_seconds: int, client: Any = None, clock: Clock = time.time):
        super().__init__(table_name, client, clock)
        self._ttl = ttl_seconds

    def get(self, key: str) -> CachedAnswer | None:
        return self._answer(self._get(keys.cache(key), consistent=False))

    def _answer(self, item: dict[str, Any] | None) -> CachedAnswer | None:
        # DynamoDB deletes expired items lazily: an expired one is a miss.
        if not item or item[keys.TTL_ATTRIBUTE] <= self._clock():
            return None
        return CachedAnswer(text=item["text"], stop_reason=item["stop_reason"])

    def _item(self, key: str, answer: CachedAnswer) -> dict[str, Any]:
        return to_item(
            {**keys.cache(key), **asdict(answer), keys.TTL_ATTRIBUTE: int(self._clock() + self._ttl)}
        )

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._writing.put_item(TableName=self._table, Item=self._item(key, answer))

    def _shares_table(self, other: object) -> bool:
        return isinstance(other, _Table) and other._table == self._table and other._client is self._client

    def get_with_breaker(
        self, key: str, model: str, breakers: BreakerStore
    ) -> tuple[CachedAnswer | None, BreakerState]:
        """One BatchGetItem of both items (strongly consistent: the breaker's read always was);
        keys DynamoDB leaves unprocessed are asked again."""
        if not self._shares_table(breakers):
            return self.get(key), breakers.read(model)
        wanted = {"answer": keys.cache(key), "breaker": keys.breaker(model)}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request: dict[str, Any] = {
            self._table: {"Keys": [to_item(k) for k in wanted.values()], "ConsistentRead": True}
        }
        for attempt in range(TRANSACTION_ATTEMPTS):
            answer = self._reading.batch_get_item(RequestItems=request)
            for raw in answer.get("Responses", {}).get(self._table, []):
                item = from_item(raw)
                found[(item["pk"], item["sk"])] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            backoff(attempt)
        else:
            raise RuntimeError(f"DynamoDB left keys unprocessed {TRANSACTION_ATTEMPTS} times: {request}")

        def of(name: str) -> dict[str, Any] | None:
            return found.get((wanted[name]["pk"], wanted[name]["sk"]))

        return self._answer(of("answer")), _breaker_state(of("breaker"))

    def put_settling(
        self, key: str, answer: CachedAnswer, ledger: Ledger, hold: Hold, entry: LedgerEntry
    ) -> None:
        """The answer's Put joins the ledger's transaction (its line and its total)."""
        if isinstance(ledger, DynamoDBLedger) and self._shares_table(ledger):
            ledger.settle(hold, entry, also={"Item": self._item(key, answer)})
            return
        ledger.settle(hold, entry)
        self.put(key, answer)


# --- run ledger --------------------------------------------------------------
class DynamoDBLedger(_Table):
    def hold(self, correlation_id: str, amount_usd: float, budget_usd: float | None) -> Hold:
        """Set the call's worst case aside, or refuse it (:class:`OverBudget`). A step's waiting
        claim goes in the hold's request; with nothing to hold, the gateway writes it before the call."""
        hold = Hold(correlation_id, amount_usd if budget_usd is not None else 0.0)
        if budget_usd is None or amount_usd <= 0:
            return hold
        if amount_usd > budget_usd:
            raise OverBudget(self.total(correlation_id).committed_usd)
        update = {
            "TableName": self._table,
            "Key": to_item(keys.run_total(correlation_id)),
            "UpdateExpression": "ADD committed_usd :amount",
            # no arithmetic in a condition: the limit is the budget less this hold
            "ConditionExpression": "attribute_not_exists(committed_usd) OR committed_usd <= :limit",
            "ExpressionAttributeValues": values(
                {":amount": amount_usd, ":limit": exact(budget_usd) - exact(amount_usd)}
            ),
        }
        flush_deferred()  # a waiting claim goes with what waited, then
        claim = waiting_claim()
        try:
            if claim is None or not claim.carry(self._client, [{"Update": update}]):
                self._client.update_item(**update)
        except TransactionRefused:
            raise OverBudget(self.total(correlation_id).committed_usd) from None
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise OverBudget(self.total(correlation_id).committed_usd) from None
            raise
        return hold

    def settle(self, hold: Hold, entry: LedgerEntry, also: dict[str, Any] | None = None) -> None:
        """The call's line and the run's total, in one transaction; ``also``: one more Put in it
        (the call's cached answer, :meth:`DynamoDBCache.put_settling`).

        Inside an idempotent step it waits for the step's end (:func:`begin_step`), or for the
        adapters' next request, whichever comes first. A transaction that keeps meeting
        conflicting ones is written as its writes one by one, the line first (:func:`write_paid`).
        """
        now = self._clock()
        key = keys.run_call(hold.correlation_id, now, next(_SEQUENCE), entry.capability, uuid.uuid4().hex[:8])
        line = {"Item": to_item({**key, **asdict(entry)}), "ConditionExpression": "attribute_not_exists(pk)"}
        total = {
            "Key": to_item(keys.run_total(hold.correlation_id)),
            "UpdateExpression": (
                "ADD calls :one, input_tokens :i, output_tokens :o, cost_usd :c, committed_usd :d"
            ),
            "ExpressionAttributeValues": values(
                {
                    ":one": 1,
                    ":i": entry.input_tokens,
                    ":o": entry.output_tokens,
                    ":c": entry.cost_usd,
                    ":d": exact(entry.cost_usd) - exact(hold.amount_usd),
                }
            ),
        }
        actions = self._named({"Put": line}, {"Update": total}, *([{"Put": dict(also)}] if also else []))
        if not defer(self._client, actions):
            write_paid(self._writing, actions)

    def release(self, hold: Hold) -> None:
        if hold.amount_usd <= 0:
            return
        self._writing.update_item(
            TableName=self._table,
            Key=to_item(keys.run_total(hold.correlation_id)),
            UpdateExpression="ADD committed_usd :back",
            ExpressionAttributeValues=values({":back": -hold.amount_usd}),
        )

    def record(self, correlation_id: str, entry: LedgerEntry) -> None:
        self.settle(Hold(correlation_id, 0.0), entry)

    def record_guard(self, correlation_id: str, record: GuardRecord) -> None:
        """A guard verdict in the run's ledger: which policies decided what, at which stage."""
        item = {**keys.run_guard(correlation_id, self._clock(), record.stage), **asdict(record)}
        item["findings"] = list(record.findings)
        self._writing.put_item(TableName=self._table, Item=to_item(item))

    def guard_records(self, correlation_id: str) -> list[GuardRecord]:
        return [
            GuardRecord(i["stage"], i["outcome"], i["policy_version"], tuple(i["findings"]))
            for i in self._run_items(correlation_id, keys.GUARD)
        ]

    def total(self, correlation_id: str) -> RunTotal:
        item = self._get(keys.run_total(correlation_id))
        if not item:
            return RunTotal()
        return RunTotal(
            calls=int(item.get("calls", 0)),
            input_tokens=int(item.get("input_tokens", 0)),
            output_tokens=int(item.get("output_tokens", 0)),
            cost_usd=float(item.get("cost_usd", 0)),
            committed_usd=float(item.get("committed_usd", 0)),
        )

    def entries(self, correlation_id: str) -> list[LedgerEntry]:
        names = [f.name for f in fields(LedgerEntry)]
        return [LedgerEntry(**{n: i[n] for n in names}) for i in self._run_items(correlation_id, keys.CALL)]

    def _run_items(self, correlation_id: str, prefix: str) -> Iterator[dict[str, Any]]:
        return self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=values({":pk": keys.run(correlation_id), ":prefix": prefix}),
            ConsistentRead=True,
        )


# --- reviews -----------------------------------------------------------------
REVIEW_TTL_SECONDS = 7 * 24 * 3600  # the longest a flow waits (review, then escalation), with margin


class DynamoDBReviews(_Table):
    """Reviews in the state table; the pending ones in the sparse index, one partition per tenant.

    A review leaves the index when it is decided or expired (its ``gsi1pk`` is removed),
    or when DynamoDB deletes it at its TTL, so what the index holds is what waits: it is
    listed and counted from there, tenant by tenant, never by a scan. The tenants that
    ever had a review are kept in one set (``reviews#tenants``).
    """

    def create(self, task_token: str, details: dict[str, Any]) -> str:
        tenant, correlation_id = owner_of(details)
        for _ in range(5):
            review_id, now = new_review_id(), self._clock()
            expiration = int(now + REVIEW_TTL_SECONDS)
            actions: list[dict[str, Any]] = [
                {
                    "Put": {
                        "Item": to_item(
                            {
                                **keys.review(review_id),
                                "status": PENDING,
                                "created_at": now,
                                "task_token": task_token,
                                # UTF-8 as it is: escaped, 200 KB of emoji would take 600 KB of an item's 400
                                "details": json.dumps(details, sort_keys=True, ensure_ascii=False),
                                "tenant": tenant,
                                "correlation_id": correlation_id,
                                keys.TTL_ATTRIBUTE: expiration,
                                "gsi1pk": keys.pending_index(tenant),
                                "gsi1sk": keys.pending_order(now, review_id),
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "Item": to_item(
                            {
                                **keys.run_review(correlation_id),
                                "review_id": review_id,
                                keys.TTL_ATTRIBUTE: expiration,
                            }
                        )
                    }
                },
                {
                    "Update": {
                        "Key": to_item(keys.REVIEW_TENANTS),
                        "UpdateExpression": "ADD tenants :tenant",
                        "ExpressionAttributeValues": values({":tenant": {tenant}}),
                    }
                },
            ]
            earlier = self.of_run(correlation_id)
            if earlier is not None and earlier.status == PENDING:
                # a reminder or an escalation replaces the run's earlier request: its token no longer waits
                actions.append(self._leave(earlier.review_id, EXPIRED))
            try:
                self._transact(*actions)
            except TransactionRefused:
                continue  # the earlier one was decided meanwhile, or the id was taken: look again
            return review_id
        raise RuntimeError(f"could not store a review for run {correlation_id}: too much contention")

    def get(self, review_id: str) -> Review:
        item = self._get(keys.review(review_id))
        if not item:
            raise ReviewNotFound(review_id)
        return _review(item)

    def of_run(self, correlation_id: str) -> Review | None:
        pointer = self._get(keys.run_review(correlation_id))
        if not pointer:
            return None
        try:
            return self.get(pointer["review_id"])
        except ReviewNotFound:
            return None

    def tenants(self) -> frozenset[str]:
        item = self._get(keys.REVIEW_TENANTS)
        return frozenset(item["tenants"]) if item else frozenset()

    def _tenants(self, wanted: frozenset[str] | None) -> list[str]:
        if wanted is not None and not wanted:
            return []  # no tenant asked for: nothing to read
        known = self.tenants()
        return sorted(known if wanted is None else known & wanted)

    def _waiting(self, tenant: str, **query: Any) -> Any:
        return self._reading.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=keys.PENDING_INDEX,
            KeyConditionExpression="gsi1pk = :pending",
            ExpressionAttributeValues=values({":pending": keys.pending_index(tenant)}),
            **query,
        )

    def pending(self, tenants: frozenset[str] | None = None) -> list[Review]:
        found = [
            _review(from_item(item))
            for tenant in self._tenants(tenants)
            for page in self._waiting(tenant)
            for item in page["Items"]
        ]
        return sorted(found, key=lambda r: (r.created_at, r.review_id))

    def count_pending(self, tenants: frozenset[str] | None = None) -> int:
        """Counted by the index (``Select=COUNT``), tenant by tenant: what waits, without reading it."""
        return sum(
            page["Count"]
            for tenant in self._tenants(tenants)
            for page in self._waiting(tenant, Select="COUNT")
        )

    def decide(self, decision: ReviewDecision) -> str:
        item = self._get(keys.review(decision.review_id))
        if not item:
            raise ReviewNotFound(decision.review_id)
        leave = self._leave(decision.review_id, DECIDED)["Update"]
        condition = leave["ConditionExpression"]
        if decision.decision != "reject":  # the last approval is never by someone who approved before
            condition += " AND NOT contains(approvers, :reviewer)"
        try:
            self._writing.update_item(
                TableName=self._table,
                Key=leave["Key"],
                UpdateExpression=leave["UpdateExpression"] + ", decision = :decision, decided_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeNames=leave["ExpressionAttributeNames"],
                ExpressionAttributeValues={
                    **leave["ExpressionAttributeValues"],
                    **values({":decision": decision.model_dump_json(), ":now": self._clock()}),
                    **(values({":reviewer": decision.reviewer}) if decision.decision != "reject" else {}),
                },
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                self._refused(decision)
            raise
        return str(item["task_token"])

    def _refused(self, decision: ReviewDecision) -> None:
        """Why a conditional update of a pending review was refused: it is no longer pending, or this
        reviewer approved it already."""
        review = self.get(decision.review_id)
        if review.status == PENDING and decision.reviewer in review.approved_by:
            raise AlreadyApproved(decision.review_id) from None
        raise AlreadyDecided(decision.review_id) from None

    def approve(self, approval: ReviewDecision, restart: bool = False) -> Review:
        entry = {
            "reviewer": approval.reviewer,
            "at": self._clock(),
            "decision": approval.decision,
            "reason": approval.reason,
            "edits": approval.edits,
        }
        update = (
            "SET approvals = :one, approvers = :me"
            if restart
            else "SET approvals = list_append(if_not_exists(approvals, :none), :one) ADD approvers :me"
        )
        named = {
            ":pending": PENDING,
            ":one": [entry],
            ":me": {approval.reviewer},
            ":reviewer": approval.reviewer,
        }
        try:
            answer = self._writing.update_item(
                TableName=self._table,
                Key=to_item(keys.review(approval.review_id)),
                UpdateExpression=update,
                ConditionExpression="#status = :pending AND NOT contains(approvers, :reviewer)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values({**named, **({} if restart else {":none": []})}),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                if not self._get(keys.review(approval.review_id)):
                    raise ReviewNotFound(approval.review_id) from None
                self._refused(approval)
            raise
        return _review(from_item(answer["Attributes"]))

    def reopen(self, decision: ReviewDecision) -> None:
        review = self.get(decision.review_id)
        try:
            self._writing.update_item(
                TableName=self._table,
                Key=to_item(keys.review(decision.review_id)),
                UpdateExpression="SET #status = :pending, gsi1pk = :index REMOVE decision, decided_at",
                ConditionExpression="#status = :decided AND decision = :decision",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values(
                    {
                        ":pending": PENDING,
                        ":decided": DECIDED,
                        ":decision": decision.model_dump_json(),
                        ":index": keys.pending_index(review.tenant),
                    }
                ),
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise AlreadyDecided(decision.review_id) from None
            raise

    def expire(self, review_id: str) -> bool:
        """PENDING or DECIDED → EXPIRED, in one conditional update (a decision, if any, is kept)."""
        try:
            self._writing.update_item(
                TableName=self._table,
                Key=to_item(keys.review(review_id)),
                UpdateExpression="REMOVE gsi1pk SET #status = :expired",
                ConditionExpression="#status IN (:pending, :decided)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values(
                    {":expired": EXPIRED, ":pending": PENDING, ":decided": DECIDED}
                ),
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:  # already expired, or no such review
                return False
            raise
        return True

    def _leave(self, review_id: str, status: str) -> dict[str, Any]:
        """PENDING → ``status``, out of the pending index (its key removed)."""
        return {
            "Update": {
                "Key": to_item(keys.review(review_id)),
                "UpdateExpression": "REMOVE gsi1pk SET #status = :status",
                "ConditionExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values({":status": status, ":pending": PENDING}),
            }
        }


def _review(item: dict[str, Any]) -> Review:
    decision = item.get("decision")
    details = json.loads(item["details"])
    tenant, correlation_id = owner_of(details)
    return Review(
        review_id=keys.review_id_of(item),
        status=item["status"],
        created_at=float(item["created_at"]),
        details=details,
        decision=json.loads(decision) if decision else None,
        tenant=item.get("tenant", tenant),
        correlation_id=item.get("correlation_id", correlation_id),
        approvals=tuple(item.get("approvals") or ()),
    )


# --- the audit trail ------------------------------------------------------------------
class DynamoDBAuditTrail(_Table):
    """A run's audit records under ``audit#<correlation id>``, each written once (``attribute_not_exists``)
    and kept ``retention_days`` (the table's TTL deletes it then). No code here updates or deletes one,
    and the stack's IAM denies every function changing or deleting an ``audit#`` item."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        clock: Clock = time.time,
        *,
        retention_days: int = AUDIT_RETENTION_DAYS,
    ) -> None:
        super().__init__(table_name, client, clock)
        self._retention_seconds = retention_days * 24 * 3600

    def append(self, record: AuditRecord) -> None:
        item = {
            **keys.audit(record.correlation_id, record.at, uuid.uuid4().hex[:12]),
            **{f.name: getattr(record, f.name) for f in fields(record)},
            "details": json.dumps(record.details, sort_keys=True, ensure_ascii=False)
            if record.details
            else None,
            "changes": json.dumps(record.changes, sort_keys=True, ensure_ascii=False)
            if record.changes
            else None,
            keys.TTL_ATTRIBUTE: int(record.at + self._retention_seconds),
        }
        self._writing.put_item(
            TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def of_run(self, correlation_id: str) -> list[AuditRecord]:
        found = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=values({":pk": keys.audit(correlation_id, 0, "")["pk"]}),
            ConsistentRead=True,
        )
        names = {f.name for f in fields(AuditRecord)}
        return [
            AuditRecord(
                **{
                    **{k: v for k, v in item.items() if k in names},
                    "at": float(item["at"]),
                    "details": json.loads(item["details"]) if item.get("details") else None,
                    "changes": json.loads(item["changes"]) if item.get("changes") else None,
                }
            )
            for item in found
        ]


# --- checkpoints of long work --------------------------------------------------
class DynamoDBCheckpoints(_Table):
    def done(self, work_id: str) -> dict[int, dict[str, Any]]:
        found = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=values({":pk": keys.work_chunk(work_id, 0)["pk"]}),
            ConsistentRead=True,
        )
        return {int(i["number"]): json.loads(i["result"]) for i in found}

    def save(self, work_id: str, number: int, result: dict[str, Any]) -> None:
        item = {
            **keys.work_chunk(work_id, number),
            "number": number,
            "result": json.dumps(result, sort_keys=True),
            keys.TTL_ATTRIBUTE: int(self._clock() + CHECKPOINT_TTL_SECONDS),
        }
        self._writing.put_item(TableName=self._table, Item=to_item(item))
