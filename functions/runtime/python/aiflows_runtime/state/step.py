"""The step: one invocation's idempotent work, from the claim of its record to its completion.

:class:`~.idempotency.StepRecords` opens a step when Powertools claims the step's idempotency
record, and ends it when Powertools completes (or, the function having raised, deletes) that
record. Inside a step two writes may wait, each to join a request the step sends anyway:

- **a model call's settling transaction** (its ledger line, the run's total, the cached answer)
  waits for the record's completion, or for the adapters' next request of any kind, a read
  included (:func:`flush_deferred`): so a hold, another call's read, a checkpoint of long work
  never go out before the line of a call the model answered;
- **the claim itself**, in a step that defers it (``StepRecords(defer_claim=True)``), waits for
  the step's first write: the hold of its first model call, the flush of a settling transaction,
  or the completion. Reads go out before it: a read has no effect a second invocation could
  repeat. The model is called only once the claim is written (the gateway writes it before the
  call, :func:`claim_now`, where the hold did not carry it). A step defers its claim only where
  the state adapters and the gateway's model call are its only effects
  (``docs/capabilities.md#idempotency``).

When a deferred claim's condition fails (another invocation holds the record), nothing of the
write it joined is made and the step raises :class:`ClaimRefused`; the idempotent step then asks
Powertools again with its claim at once, and Powertools answers as it always does: the stored
result, or the step in progress (:func:`~.idempotency.idempotent_step_function`).

One step per execution context: a Lambda runs one invocation at a time; a thread starts with none.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from .transactions import TransactionKeptConflicting, TransactionRefused, one_by_one, transact


class ClaimRefused(Exception):
    """The step's deferred claim was refused: another invocation holds its idempotency record."""

    def __init__(self) -> None:
        super().__init__("another invocation holds the step's idempotency record")


@dataclass
class Claim:
    """A step's deferred claim: the ``PutItem`` Powertools' layer makes, and how to send it alone."""

    put: dict[str, Any]  # the request, as a transaction's Put action takes it (its table named)
    send_alone: Callable[[], None]  # Powertools' own put; raises ClaimRefused when the record is held
    state: Literal["waiting", "written", "refused"] = "waiting"

    @property
    def waits(self) -> bool:
        """Not sent yet."""
        return self.state == "waiting"

    @property
    def refused(self) -> bool:
        return self.state == "refused"

    def write(self) -> None:
        """The claim alone, now."""
        try:
            self.send_alone()
        except ClaimRefused:
            self.state = "refused"
            raise
        self.state = "written"

    def carry(
        self, client: Any, actions: list[dict[str, Any]], completing: dict[str, Any] | None = None
    ) -> bool:
        """Write ``actions`` (each naming its table) in one transaction with the claim, the claim
        first; ``completing``: attributes the claimed record is written with (its completion).

        True when they went together. False when the transaction kept meeting conflicting ones:
        the claim was then written alone, and the caller writes ``actions`` as with no claim.
        A refused claim raises :class:`ClaimRefused` (nothing of ``actions`` is written); a
        refused action of ``actions``, :class:`TransactionRefused` (its indices count the claim).
        """
        put = self.put if completing is None else {**self.put, "Item": {**self.put["Item"], **completing}}
        try:
            transact(client, [{"Put": put}, *actions])
        except TransactionRefused as refused:
            if 0 in refused.failed:
                self.state = "refused"
                raise ClaimRefused() from refused
            raise
        except TransactionKeptConflicting:
            self.write()
            return False
        self.state = "written"
        return True


@dataclass
class _Step:
    client: Any = None  # the client of the adapter whose writes wait
    waiting: list[dict[str, Any]] | None = None  # transaction actions, each naming its table
    claim: Claim | None = None  # the step's claim, when it defers it


_STEP: ContextVar[_Step | None] = ContextVar("aiflows_step", default=None)


def leave_open_step() -> None:
    """Close a step whose record was neither completed nor deleted (Powertools failed before it
    could, or the environment died mid-step): what it left waiting is written, and its deferred
    claim, if never sent, is dropped (its invocation is over)."""
    step = _STEP.get()
    if step is None:
        return
    if step.claim is not None and step.claim.waits:
        step.claim = None
    flush_deferred()
    _STEP.set(None)


def begin_step(claim: Claim | None = None) -> None:
    """The step's record is claimed, or its claim waits (``claim``): a settling transaction may wait."""
    leave_open_step()
    _STEP.set(_Step(claim=claim))


def end_step() -> tuple[Claim | None, list[dict[str, Any]]]:
    """The step's body ended: its deferred claim (if it has one) and the writes that waited for
    the transaction that completes or deletes its record; no step open any more."""
    step = _STEP.get()
    _STEP.set(None)
    if step is None:
        return None, []
    return step.claim, list(step.waiting or [])


def waiting_claim() -> Claim | None:
    """The open step's claim, while it waits for the step's first write."""
    step = _STEP.get()
    if step is None or step.claim is None or not step.claim.waits:
        return None
    return step.claim


def claim_now() -> None:
    """Write the open step's claim, if it still waits: before an effect a second invocation could repeat."""
    claim = waiting_claim()
    if claim is not None:
        claim.write()


def flush_deferred() -> None:
    """Write what waits, now (the step stays open): before any other request of the adapters.

    A waiting claim goes in the same transaction: this is a write.
    """
    step = _STEP.get()
    if step is None or not step.waiting:
        return
    waiting, step.waiting = step.waiting, None
    claim = waiting_claim()
    try:
        if claim is None or not claim.carry(step.client, waiting):
            transact(step.client, waiting)
    except TransactionKeptConflicting:
        one_by_one(step.client, waiting)  # if this fails, some are written: never tried again
    except (TransactionRefused, ClaimRefused):
        raise
    except Exception:
        step.waiting = waiting  # a transaction is all or none: the step's end tries it again
        raise


def defer(client: Any, actions: list[dict[str, Any]]) -> bool:
    """Let ``actions`` wait for the step's end, when a step is open; False when none is."""
    step = _STEP.get()
    if step is None:
        return False
    flush_deferred()  # at most one settling transaction waits: the step's last
    step.client, step.waiting = client, actions
    return True


def refused_claim(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by, or on account of, a refused deferred claim (Powertools wraps
    what its layer raises at the completion)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ClaimRefused):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
