"""Powertools' idempotency records in the state table, written with the step's own writes.

:class:`StepRecords` is Powertools' ``DynamoDBPersistenceLayer`` with its three writes
(``_put_record``, ``_update_record``, ``_delete_record``, the methods a persistence layer
implements) extended so that the record's writes join the step's (:mod:`.step`):

- the claim (``PutItem``, Powertools' own) opens the step. In a step that defers it
  (``defer_claim=True``), the very request Powertools makes waits for the step's first write
  and goes in its transaction: the hold of the first model call, or the completion;
- the completion (``COMPLETED`` with the result, as Powertools writes it) is one more action of
  the model call's settling transaction, which waited for it; when the function raised, so is
  the record's deletion. A claim still waiting at the completion is written completed;
- what waits is written before any other request the state adapters send, so it waits only
  across code that sends nothing (the capability's logic, its output contract).

A model call then costs 3 DynamoDB requests, idempotency's included: the read of the breaker
and the cached answer, the claim with the hold, the completion with the line.

:func:`idempotent_step_function` puts a step behind Powertools' ``idempotent_function`` on
these records, and answers a refused deferred claim as Powertools answers a held record.

Imported where the persistence layer is built (``capability._persistence``): it loads Powertools.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from .step import Claim, ClaimRefused, begin_step, end_step, leave_open_step, refused_claim
from .transactions import write_paid


class StepRecords(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB persistence layer, whose writes carry the step's waiting ones."""

    def __init__(self, *args: Any, defer_claim: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.defers_claim = defer_claim

    @functools.cached_property
    def claiming_at_once(self) -> StepRecords:
        """These records (the same client and table), claiming at once."""
        at_once = copy.copy(self)
        at_once.defers_claim = False
        return at_once

    def _put_record(self, data_record: DataRecord) -> None:
        if not self.defers_claim:
            leave_open_step()  # a step left open by an earlier invocation writes what it left, first
            super()._put_record(data_record)
            begin_step()  # claimed: this invocation runs the step
            return
        begin_step(Claim(self._claim_request(data_record), lambda: self._claim_alone(data_record)))

    def _claim_request(self, data_record: DataRecord) -> dict[str, Any]:
        """The ``PutItem`` request Powertools' ``_put_record`` makes, kept, not sent."""
        return self._kept(DynamoDBPersistenceLayer._put_record, data_record)

    def _claim_alone(self, data_record: DataRecord) -> None:
        try:
            DynamoDBPersistenceLayer._put_record(self, data_record)
        except IdempotencyItemAlreadyExistsError as held:
            raise ClaimRefused() from held

    def _update_record(self, data_record: DataRecord) -> None:
        claim, waiting = end_step()
        if claim is not None and claim.refused:
            raise ClaimRefused()
        if claim is not None and claim.waits:
            if claim.carry(self.client, waiting, completing=self._completed(data_record)):
                return
            # the claim went alone: the completion goes as in any step
        if not waiting:
            super()._update_record(data_record)
            return
        write_paid(self.client, [*waiting, {"Update": self._completion(data_record)}])

    def _delete_record(self, data_record: DataRecord) -> None:
        claim, waiting = end_step()
        if claim is not None and claim.state != "written":
            # the claim never went out, or another invocation's record refused it: nothing to delete
            if waiting:
                write_paid(self.client, waiting)
            if claim.waits and self._held(data_record):
                # a repeat, or a duplicate of a running step, that failed before its first write:
                # Powertools answers it as a claim at once would have been (the stored result)
                raise ClaimRefused()
            return
        if not waiting:
            super()._delete_record(data_record)
            return
        key = self._get_key(data_record.idempotency_key)
        write_paid(self.client, [*waiting, {"Delete": {"TableName": self.table_name, "Key": key}}])

    def _held(self, data_record: DataRecord) -> bool:
        """Whether the step's record exists: another invocation claimed or completed it."""
        try:
            self._get_record(data_record.idempotency_key)
        except IdempotencyItemNotFoundError:
            return False
        return True

    def _completion(self, data_record: DataRecord) -> dict[str, Any]:
        """The ``UpdateItem`` request Powertools' ``_update_record`` makes, kept, not sent."""
        return self._kept(DynamoDBPersistenceLayer._update_record, data_record)

    def _completed(self, data_record: DataRecord) -> dict[str, Any]:
        """The attributes the completion sets, by name (Powertools names ``#x`` the attribute ``:x`` sets)."""
        update = self._completion(data_record)
        values = update["ExpressionAttributeValues"]
        return {
            name: values[":" + placeholder[1:]]
            for placeholder, name in update["ExpressionAttributeNames"].items()
        }

    def _kept(self, write: Callable[[Any, DataRecord], None], data_record: DataRecord) -> dict[str, Any]:
        """The request Powertools' ``write`` sends for ``data_record``, kept instead of sent."""
        kept = _KeptRequest()
        keeping = copy.copy(self)
        keeping.client = kept
        write(keeping, data_record)
        return kept.request


class _KeptRequest:
    """A client that keeps the one write it is asked for (its request is a transaction's action)."""

    request: dict[str, Any]

    def put_item(self, **request: Any) -> None:
        self.request = request

    update_item = put_item


def idempotent_step_function(
    fn: Callable[..., Any], *, records: StepRecords, config: IdempotencyConfig, key_prefix: str
) -> Callable[..., Any]:
    """``fn`` (taking its input as ``request=``) behind Powertools' ``idempotent_function`` on ``records``.

    Where ``records`` defers the claim and another invocation holds the record (its claim
    refused, or the step failed before its first write with the record there), the step is
    asked again with its claim at once: Powertools answers it as any held record, with the
    stored result or :class:`IdempotencyAlreadyInProgressError`.
    """

    def guarded(on: StepRecords) -> Callable[..., Any]:
        step: Callable[..., Any] = idempotent_function(
            data_keyword_argument="request", persistence_store=on, config=config, key_prefix=key_prefix
        )(fn)
        return step

    first = guarded(records)
    again = guarded(records.claiming_at_once) if records.defers_claim else None

    def closed(guarded_step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return guarded_step(*args, **kwargs)
        except Exception:
            # Powertools may raise before it completes or deletes the record (a result it cannot
            # serialize): nothing of this invocation's step is left for the next one to send
            leave_open_step()
            raise

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Any:
        try:
            return closed(first, *args, **kwargs)
        except Exception as exc:
            if again is None or not refused_claim(exc):
                raise
        return closed(again, *args, **kwargs)

    return step
