"""DynamoDB transactions as the state adapters write them: retried on conflicts, refusals named.

``TransactWriteItems`` groups up to 100 actions on distinct items, all or none. A transaction
cancelled by a conflict with another one on the same items (``TransactionConflict``) may be
tried again; one whose condition failed (``ConditionalCheckFailed``) wrote nothing and says which
action refused ("Amazon DynamoDB Transactions: How it works").
"""

from __future__ import annotations

import random
import time
from typing import Any

from aiflows_runtime.errors import error_code

TRANSACTION_ATTEMPTS = 5


class TransactionKeptConflicting(Exception):
    """Every attempt of the transaction met another one on the same items: nothing was written."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"the transaction met a conflicting one {attempts} times")


class TransactionRefused(Exception):
    """A condition of the transaction failed: nothing was written."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"conditions failed on actions {failed}")
        self.failed = failed


def backoff(attempt: int) -> None:
    """The jittered pause before attempt ``attempt + 1`` of a request DynamoDB asked to repeat."""
    time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret


def transact(client: Any, actions: list[dict[str, Any]]) -> None:
    """One transaction of ``actions`` (each naming its table); :class:`TransactionRefused` names
    which condition failed.

    A transaction cancelled by a conflict with another one on the same items
    (``TransactionConflict``) is tried again, with jittered backoff, as DynamoDB
    advises; its conditions are evaluated anew each time.
    """
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=actions)
            return
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = (getattr(exc, "response", {}) or {}).get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
            if failed:
                raise TransactionRefused(failed) from exc
            if "TransactionConflict" not in codes:
                raise
            if attempt == TRANSACTION_ATTEMPTS - 1:
                raise TransactionKeptConflicting(TRANSACTION_ATTEMPTS) from exc
            backoff(attempt)


def write_paid(client: Any, actions: list[dict[str, Any]]) -> None:
    """``actions`` in one transaction; if it keeps meeting conflicting ones, one by one, in order.

    For writes that follow a paid model call (its line first): single-item writes never
    conflict that way, and the line must not be lost. What is given up then is only that a
    crash between two of them leaves the line without its share of the total.
    """
    try:
        transact(client, actions)
    except TransactionKeptConflicting:
        one_by_one(client, actions)


def one_by_one(client: Any, actions: list[dict[str, Any]]) -> None:
    for action in actions:
        (kind, request), *_ = action.items()
        {"Put": client.put_item, "Update": client.update_item, "Delete": client.delete_item}[kind](**request)
