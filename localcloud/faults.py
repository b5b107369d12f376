"""Fault injection: the faults the chaos suite runs flows under, seeded, bounded and counted.

``cloud.faults.add(kind, rate=..., target=..., limit=...)`` arms a fault; every
place that can fail asks :meth:`Faults.strike` whether this call fails, and the
answer comes from one seeded random generator, so a scenario with the same seed
and the same traffic draws the same faults. What was injected is counted in
``cloud.faults.injected``.

Where each kind strikes:

- ``model.*``: the local model (:mod:`localcloud.model`), by model id;
- ``lambda.crash``: the local Lambda (:mod:`localcloud.lambdas`), by function name,
  after the handler ran and before its answer reaches the caller (the costliest
  moment: the work is done, the caller does not know it);
- ``events.duplicate``: EventBridge's delivery to a rule's target
  (``LocalCloud.deliver_event``), by target ARN;
- ``sqs.redeliver``: the SQS event source mapping (:mod:`localcloud.sqs_poller`),
  by queue name: a message handled successfully arrives once more;
- ``events.put_partial``, ``dynamodb.throttle``, ``dynamodb.conflict``, ``s3.error``:
  the endpoint itself (:class:`FaultyEndpoint`, in front of moto's server), by
  operation, answered in each service's own error format, as AWS would.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

KINDS = {
    "model.throttle": "Bedrock answers ThrottlingException",
    "model.hang": "the model answers only after the client's read timeout",
    "model.malformed": "the model's answer does not satisfy the capability's contract",
    "lambda.crash": "the function's environment dies after its handler ran, before it answered",
    "events.duplicate": "EventBridge delivers an event to a rule's target twice",
    "events.put_partial": "PutEvents refuses the entry: FailedEntryCount 1, ErrorCode InternalFailure",
    "sqs.redeliver": "SQS delivers a message that was handled once more (at-least-once delivery)",
    "dynamodb.throttle": "DynamoDB answers ProvisionedThroughputExceededException",
    "dynamodb.conflict": "TransactWriteItems is cancelled with TransactionConflict",
    "s3.error": "S3 answers 503 SlowDown",
}


class UnknownFault(ValueError):
    pass


@dataclass
class Fault:
    kind: str
    rate: float = 1.0  # the chance that a call it targets fails
    target: str = ""  # a part of the model id, function name, target ARN, queue or operation; "" for all
    limit: int | None = None  # at most this many injections
    struck: int = 0


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self._random = random.Random(seed)  # noqa: S311 - reproducible draws, not secrets
        self.injected: Counter[str] = Counter()

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def add(self, kind: str, rate: float = 1.0, target: str = "", limit: int | None = None) -> Fault:
        if kind not in KINDS:
            raise UnknownFault(f"no fault {kind!r}: the local cloud injects {sorted(KINDS)}")
        if not 0 < rate <= 1:
            raise ValueError(f"{kind}: rate {rate} is not in (0, 1]")
        fault = Fault(kind, rate, target, limit)
        with self._lock:
            self._armed.append(fault)
        return fault

    def disarm(self) -> None:
        """No fault strikes any more; what was injected stays counted."""
        with self._lock:
            self._armed.clear()

    def clear(self) -> None:
        """Disarmed, and the counts forgotten."""
        with self._lock:
            self._armed.clear()
            self.injected.clear()

    def strike(self, kind: str, subject: str = "") -> bool:
        """Does this call (of ``subject``: a model, a function, a queue...) fail with ``kind``?"""
        with self._lock:
            for fault in self._armed:
                if fault.kind != kind or (fault.target and fault.target not in subject):
                    continue
                if fault.limit is not None and fault.struck >= fault.limit:
                    continue
                if self._random.random() < fault.rate:
                    fault.struck += 1
                    self.injected[kind] += 1
                    return True
        return False


# --- the endpoint ---------------------------------------------------------------
_DYNAMODB = "DynamoDB_20120810."
_EVENTS = "AWSEvents."


def _json_error(code: str, message: str, status: str, **extra: Any) -> tuple[str, list[Any], bytes]:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}
    # every AWS answer carries its request id, errors too (what a Step Functions error's Cause quotes)
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    return status, headers, json.dumps(body).encode()


class FaultyEndpoint:
    """WSGI middleware in front of moto's server: a request may be answered with a fault instead."""

    def __init__(self, app: Callable[..., Iterable[bytes]], faults: Faults) -> None:
        self._app = app
        self._faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = self._fault(environ)
        if answer is None:
            return self._app(environ, start_response)
        status, headers, body = answer
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _fault(self, environ: dict[str, Any]) -> tuple[str, list[Any], bytes] | None:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(_DYNAMODB):
            operation = target.removeprefix(_DYNAMODB)
            if self._faults.strike("dynamodb.throttle", operation):
                return _json_error(
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded.",
                    "400 Bad Request",
                )
            if operation == "TransactWriteItems" and self._faults.strike("dynamodb.conflict", operation):
                return _json_error(
                    "TransactionCanceledException",
                    "Transaction cancelled, please refer cancellation reasons for specific reasons "
                    "[TransactionConflict]",
                    "400 Bad Request",
                    CancellationReasons=[
                        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                    ],
                )
            return None
        if target == f"{_EVENTS}PutEvents" and self._faults.strike("events.put_partial", "PutEvents"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            entries = json.loads(environ["wsgi.input"].read(length) or b"{}").get("Entries") or []
            refused = [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."} for _ in entries
            ]
            body = json.dumps({"FailedEntryCount": len(refused), "Entries": refused}).encode()
            return "200 OK", [("Content-Type", "application/x-amz-json-1.1")], body
        if "/s3/aws4_request" in environ.get("HTTP_AUTHORIZATION", "") and self._faults.strike(
            "s3.error", environ.get("PATH_INFO", "")
        ):
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>"
            )
            return "503 Slow Down", [("Content-Type", "application/xml")], body
        return None
