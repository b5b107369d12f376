"""SQS event source mappings that poll in batches, as Lambda's pollers do.

moto's own wiring invokes the function inside ``send_message``, once per message,
and ignores ``batchItemFailures``. Here a poller thread per mapping receives up to
``BatchSize`` messages (waiting at most ``MaximumBatchingWindowInSeconds`` to fill
a batch), invokes the function once with the batch, and then:

- on success, deletes the batch, except the messages named in
  ``batchItemFailures`` when the mapping reports batch item failures;
- on a function error, or an answer naming a message not in the batch, deletes
  nothing: the messages come back after the visibility timeout and, after
  ``maxReceiveCount`` receives, the queue's redrive policy moves them to the DLQ.

The visibility timeout of a failed message is compressed by the time scale, so a
retry that takes minutes on AWS takes moments locally.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.sqs.exceptions import QueueDoesNotExist

from localcloud.faults import Faults
from localcloud.lambdas import InvocationError
from localcloud.timescale import TimeScale

RECEIVE_LIMIT = 10  # SQS returns at most 10 messages per receive


class SqsPoller:
    def __init__(
        self,
        mapping: Any,
        sqs_backend: Any,
        invoke: Callable[[str, dict[str, Any]], Any],
        region: str,
        time_scale: TimeScale,
        faults: Faults | None = None,
    ) -> None:
        self._faults = faults or Faults()
        self.mapping = mapping
        self._time = time_scale
        self.queue_name = mapping.event_source_arn.rsplit(":", 1)[-1]
        self._sqs = sqs_backend
        self._invoke = invoke
        self._region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"esm:{self.queue_name}")
        self.batches = 0

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.mapping.function_response_types or [])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _receive_batch(self, queue: Any) -> list[Any]:
        batch_size = int(self.mapping.batch_size or 10)
        window = float(self.mapping.max_batch_window or 0)
        deadline = time.monotonic() + window
        batch: list[Any] = []
        while not self._stop.is_set() and len(batch) < batch_size:
            wait = 1 if not batch else max(0.0, deadline - time.monotonic())
            received = self._sqs.receive_message(
                self.queue_name,
                min(RECEIVE_LIMIT, batch_size - len(batch)),
                wait_seconds_timeout=int(wait) if wait >= 1 else 0,
                visibility_timeout=queue.visibility_timeout,
            )
            batch.extend(received)
            if not received and (batch or wait < 1):
                break
            if batch and time.monotonic() >= deadline:
                break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.mapping.enabled:
                self._stop.wait(0.5)
                continue
            try:
                queue = self._sqs.get_queue(self.queue_name)
            except Exception:  # noqa: BLE001 - the queue was deleted: the mapping idles
                self._stop.wait(0.5)
                continue
            try:
                batch = self._receive_batch(queue)
            except QueueDoesNotExist:  # deleted while receiving (its stack was deleted): the mapping idles
                continue
            if batch:
                self.batches += 1
                self._deliver(queue, batch)

    def _record(self, queue: Any, message: Any) -> dict[str, Any]:
        return {
            "messageId": message.id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.approximate_receive_count),
                "SentTimestamp": str(message.sent_timestamp),
                "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
                "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
            },
            "messageAttributes": message.message_attributes or {},
            "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),  # noqa: S324 - SQS's digest
            "eventSource": "aws:sqs",
            "eventSourceARN": queue.queue_arn,
            "awsRegion": self._region,
        }

    def _deliver(self, queue: Any, batch: list[Any]) -> None:
        event = {"Records": [self._record(queue, m) for m in batch]}
        try:
            answer = self._invoke(self.mapping.function_arn, event)
        except InvocationError:
            self._retry_later(batch)
            return
        failed = self._failed_ids(answer, batch)
        if failed is None:  # an answer Lambda cannot read fails the whole batch
            self._retry_later(batch)
            return
        self._retry_later([m for m in batch if m.id in failed])
        for message in batch:
            if message.id not in failed:
                self._sqs.delete_message(self.queue_name, message.receipt_handle)
                if self._faults.strike("sqs.redeliver", self.queue_name):
                    # at-least-once: the same body arrives again, as after a lost delete
                    self._sqs.send_message(
                        self.queue_name, message.body, message_attributes=message.message_attributes or {}
                    )

    def _failed_ids(self, answer: Any, batch: list[Any]) -> set[str] | None:
        if not self.reports_item_failures or not isinstance(answer, dict):
            return set()
        failures = answer.get("batchItemFailures") or []
        ids = {m.id for m in batch}
        failed: set[str] = set()
        for failure in failures:
            item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not item or item not in ids:
                return None
            failed.add(item)
        return failed

    def _retry_later(self, messages: list[Any]) -> None:
        for message in messages:
            queue = self._sqs.get_queue(self.queue_name)
            seconds = round(self._time.wait(float(queue.visibility_timeout)) or 0)
            self._sqs.change_message_visibility(
                self.queue_name, message.receipt_handle, visibility_timeout=seconds
            )
