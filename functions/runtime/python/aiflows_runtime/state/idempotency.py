"""Powertools' idempotency records in the state table, completed with the step's last ledger write.

A model-calling step writes two things after its model answered: the call's ledger
transaction (line, run total, cached answer) and, once the function returned, the completion
of its idempotency record. :class:`StepRecords` is Powertools' ``DynamoDBPersistenceLayer``
with its three writes (``_put_record``, ``_update_record``, ``_delete_record``, the methods a
persistence layer implements) extended so that both go in one ``TransactWriteItems``:

- the claim (``PutItem``, Powertools' own) opens the step (:func:`~.dynamodb.begin_step`):
  from then on the ledger's settling transaction waits (:meth:`~.dynamodb.DynamoDBLedger.settle`);
- the completion (``COMPLETED`` with the result, as Powertools writes it) is one more action of
  that transaction; when the function raised, so is the record's deletion;
- what waits is written before any other request the state adapters send, so it waits only
  across code that sends nothing (the capability's logic, its output contract).

Imported where the persistence layer is built (``capability._persistence``): it loads Powertools.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from .dynamodb import begin_step, end_step, flush_deferred, write_paid


class StepRecords(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB persistence layer, whose completion carries the step's waiting writes."""

    def _put_record(self, data_record: DataRecord) -> None:
        flush_deferred()  # a step left open by an earlier invocation writes what it left, first
        super()._put_record(data_record)
        begin_step()  # claimed: this invocation runs the step

    def _update_record(self, data_record: DataRecord) -> None:
        waiting = end_step()
        if not waiting:
            super()._update_record(data_record)
            return
        write_paid(self.client, [*waiting, {"Update": self._completion(data_record)}])

    def _delete_record(self, data_record: DataRecord) -> None:
        waiting = end_step()
        if not waiting:
            super()._delete_record(data_record)
            return
        key = self._get_key(data_record.idempotency_key)
        write_paid(self.client, [*waiting, {"Delete": {"TableName": self.table_name, "Key": key}}])

    def _completion(self, data_record: DataRecord) -> dict[str, Any]:
        """The ``UpdateItem`` of Powertools' ``_update_record`` (3.x), as a transaction's action."""
        update = "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
        names = {"#expiry": self.expiry_attr, "#response_data": self.data_attr, "#status": self.status_attr}
        attribute_values: dict[str, Any] = {
            ":expiry": {"N": str(data_record.expiry_timestamp)},
            ":response_data": {"S": data_record.response_data},
            ":status": {"S": data_record.status},
        }
        if self.payload_validation_enabled:
            update += ", #validation_key = :validation_key"
            attribute_values[":validation_key"] = {"S": data_record.payload_hash}
            names["#validation_key"] = self.validation_key_attr
        return {
            "TableName": self.table_name,
            "Key": self._get_key(data_record.idempotency_key),
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": attribute_values,
        }
