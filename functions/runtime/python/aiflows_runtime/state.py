"""State that must outlive one Lambda instance, kept in the stack's DynamoDB table.

Three small adapters, each taking an optional boto3 DynamoDB client (tests hand
them one of the local cloud's):

- :class:`CircuitBreaker`: one breaker per model, shared by every instance;
- :class:`ResponseCache`: model answers keyed on (model, prompt, rendered text), with a TTL;
- :class:`Ledger`: the run's ledger, one line per model call and a running total.

Keys (``pk`` / ``sk``): ``breaker#<model>`` / ``state``; ``cache#<sha256>`` / ``answer``;
``run#<correlation id>`` / ``call#<time>#<capability>#<id>``, ``guard#<time>#<stage>`` and ``total``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from aiflows_runtime.errors import error_code
from aiflows_runtime.policies import BreakerSettings

Clock = Callable[[], float]
_SEQUENCE = itertools.count()


def dynamodb_client(client: Any = None) -> Any:
    """The client given (a test's, a handler's shared one), or a new DynamoDB client."""
    if client is not None:
        return client
    from aiflows_runtime.clients import client as shared

    return shared("dynamodb")


# --- circuit breaker ---------------------------------------------------------
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class BreakerState:
    state: str = CLOSED
    failures: int = 0
    window_start: float = 0.0
    opened_at: float = 0.0
    probe_until: float = 0.0
    version: int = 0
    last_error: str = ""  # what the last failure was: the runbook's first clue


class CircuitBreaker:
    """Opens after N failures in a window; after a pause lets one probe through.

    Every change is a conditional write on the item's version, so two instances
    that race never both claim the half-open probe.
    """

    def __init__(
        self,
        table_name: str,
        settings: BreakerSettings,
        client: Any = None,
        clock: Clock = time.time,
    ) -> None:
        self._table = table_name
        self._settings = settings
        self._ddb = dynamodb_client(client)
        self._clock = clock

    def _key(self, model: str) -> dict[str, Any]:
        return {"pk": {"S": f"breaker#{model}"}, "sk": {"S": "state"}}

    def read(self, model: str) -> BreakerState:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(model), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return BreakerState()
        return BreakerState(
            state=item["state"]["S"],
            failures=int(item["failures"]["N"]),
            window_start=float(item["window_start"]["N"]),
            opened_at=float(item["opened_at"]["N"]),
            probe_until=float(item["probe_until"]["N"]),
            version=int(item["version"]["N"]),
            last_error=item.get("last_error", {}).get("S", ""),
        )

    def _write(self, model: str, state: BreakerState, seen_version: int) -> bool:
        item = {
            **self._key(model),
            "state": {"S": state.state},
            "failures": {"N": str(state.failures)},
            "window_start": {"N": repr(state.window_start)},
            "opened_at": {"N": repr(state.opened_at)},
            "probe_until": {"N": repr(state.probe_until)},
            "version": {"N": str(seen_version + 1)},
            "last_error": {"S": state.last_error},
        }
        condition = "attribute_not_exists(pk) OR version = :seen"
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues={":seen": {"N": str(seen_version)}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def allow(self, model: str) -> bool:
        """May a call go to this model now? Claims the half-open probe when it is due."""
        current = self.read(model)
        now = self._clock()
        if current.state == CLOSED:
            return True
        probe_due = (current.state == OPEN and now >= current.opened_at + self._settings.open_seconds) or (
            current.state == HALF_OPEN and now >= current.probe_until
        )
        if not probe_due:
            return False
        claimed = BreakerState(**{**asdict(current), "state": HALF_OPEN})
        claimed.probe_until = now + self._settings.probe_lease_seconds
        return self._write(model, claimed, current.version)

    def record_success(self, model: str) -> None:
        self.close(model)

    def record_failure(self, model: str, error: str = "") -> bool:
        """Count a failure; True when this one opened the breaker."""
        settings = self._settings

        def fail(s: BreakerState, now: float) -> BreakerState | None:
            if s.state == HALF_OPEN:
                return BreakerState(state=OPEN, opened_at=now, last_error=error)
            if s.state == OPEN:
                return None
            failures = 1 if now - s.window_start > settings.window_seconds else s.failures + 1
            window_start = now if failures == 1 else s.window_start
            if failures >= settings.failure_threshold:
                return BreakerState(state=OPEN, opened_at=now, last_error=error)
            return BreakerState(failures=failures, window_start=window_start, last_error=error)

        written = self._update(model, fail)
        return written is not None and written.state == OPEN

    def close(self, model: str) -> BreakerState:
        """Closed, failures forgotten: after a success, or by hand (the breaker-open runbook)."""
        written = self._update(
            model, lambda s, now: BreakerState() if s.state != CLOSED or s.failures else None
        )
        return written or self.read(model)

    def _update(
        self, model: str, change: Callable[[BreakerState, float], BreakerState | None]
    ) -> BreakerState | None:
        """Apply a change with optimistic locking; the state written, or None if none was needed."""
        for _ in range(5):
            current = self.read(model)
            wanted = change(current, self._clock())
            if wanted is None:
                return None
            if self._write(model, wanted, current.version):
                return wanted
        raise RuntimeError(f"breaker of {model}: too much contention to record the outcome")


# --- response cache ------------------------------------------------------------
@dataclass(frozen=True)
class CachedAnswer:
    text: str
    stop_reason: str


class ResponseCache:
    def __init__(self, table_name: str, ttl_seconds: int, client: Any = None, clock: Clock = time.time):
        self._table = table_name
        self._ttl = ttl_seconds
        self._ddb = dynamodb_client(client)
        self._clock = clock

    @staticmethod
    def key(model: str, prompt_id: str, request: dict[str, Any]) -> str:
        canonical = json.dumps([model, prompt_id, request], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def get(self, key: str) -> CachedAnswer | None:
        item = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": f"cache#{key}"}, "sk": {"S": "answer"}}
        ).get("Item")
        # DynamoDB deletes expired items lazily: an expired one is a miss.
        if not item or float(item["expiration"]["N"]) <= self._clock():
            return None
        return CachedAnswer(text=item["text"]["S"], stop_reason=item["stop_reason"]["S"])

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"cache#{key}"},
                "sk": {"S": "answer"},
                "text": {"S": answer.text},
                "stop_reason": {"S": answer.stop_reason},
                "expiration": {"N": str(int(self._clock() + self._ttl))},
            },
        )


# --- run ledger --------------------------------------------------------------
@dataclass(frozen=True)
class LedgerEntry:
    """One model call of a run: what it cost, and what produced it."""

    capability: str
    model_id: str
    prompt_id: str
    policy_version: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost_usd: float
    cache_hit: bool
    outcome: str  # ok | repaired (after one malformed answer) | malformed
    flow: str
    tenant: str


@dataclass(frozen=True)
class GuardRecord:
    stage: str  # input | output
    outcome: str  # block | review | redact | pass
    policy_version: str
    findings: tuple[str, ...]  # the kinds found, never the text


@dataclass(frozen=True)
class RunTotal:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Ledger:
    def __init__(self, table_name: str, client: Any = None, clock: Clock = time.time) -> None:
        self._table = table_name
        self._ddb = dynamodb_client(client)
        self._clock = clock

    def record(self, run_id: str, entry: LedgerEntry) -> None:
        now = self._clock()
        item: dict[str, Any] = {
            "pk": {"S": f"run#{run_id}"},
            # time, then this instance's sequence: calls within one clock tick keep their order
            "sk": {"S": f"call#{now:017.6f}#{next(_SEQUENCE):08d}#{entry.capability}#{uuid.uuid4().hex[:8]}"},
        }
        for name, value in asdict(entry).items():
            if isinstance(value, bool):
                item[name] = {"BOOL": value}
            elif isinstance(value, int | float):
                item[name] = {"N": str(Decimal(repr(value)))}
            else:
                item[name] = {"S": str(value)}
        self._ddb.put_item(TableName=self._table, Item=item)
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"run#{run_id}"}, "sk": {"S": "total"}},
            UpdateExpression="ADD calls :one, input_tokens :i, output_tokens :o, cost_usd :c",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":i": {"N": str(entry.input_tokens)},
                ":o": {"N": str(entry.output_tokens)},
                ":c": {"N": str(Decimal(repr(entry.cost_usd)))},
            },
        )

    def record_guard(self, run_id: str, record: GuardRecord) -> None:
        """A guard verdict in the run's ledger: which policies decided what, at which stage."""
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"run#{run_id}"},
                "sk": {"S": f"guard#{self._clock():017.6f}#{record.stage}"},
                "stage": {"S": record.stage},
                "outcome": {"S": record.outcome},
                "policy_version": {"S": record.policy_version},
                "findings": {"L": [{"S": kind} for kind in record.findings]},
            },
        )

    def guard_records(self, run_id: str) -> list[GuardRecord]:
        answer = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :guard)",
            ExpressionAttributeValues={":pk": {"S": f"run#{run_id}"}, ":guard": {"S": "guard#"}},
            ConsistentRead=True,
        )
        return [
            GuardRecord(
                stage=item["stage"]["S"],
                outcome=item["outcome"]["S"],
                policy_version=item["policy_version"]["S"],
                findings=tuple(kind["S"] for kind in item["findings"]["L"]),
            )
            for item in answer["Items"]
        ]

    def total(self, run_id: str) -> RunTotal:
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"run#{run_id}"}, "sk": {"S": "total"}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return RunTotal()
        return RunTotal(
            calls=int(item["calls"]["N"]),
            input_tokens=int(item["input_tokens"]["N"]),
            output_tokens=int(item["output_tokens"]["N"]),
            cost_usd=float(item["cost_usd"]["N"]),
        )

    def entries(self, run_id: str) -> list[LedgerEntry]:
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :call)",
            ExpressionAttributeValues={":pk": {"S": f"run#{run_id}"}, ":call": {"S": "call#"}},
            ConsistentRead=True,
        )
        fields = LedgerEntry.__dataclass_fields__
        entries = []
        for page in pages:
            for item in page["Items"]:
                values: dict[str, Any] = {}
                for name, field in fields.items():
                    raw = item[name]
                    if "BOOL" in raw:
                        values[name] = raw["BOOL"]
                    elif "N" in raw:
                        values[name] = int(raw["N"]) if field.type == "int" else float(raw["N"])
                    else:
                        values[name] = raw["S"]
                entries.append(LedgerEntry(**values))
        return entries
