"""The circuit breaker's rules, over any :class:`~.ports.BreakerStore`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from .ports import CLOSED, HALF_OPEN, OPEN, BreakerState, BreakerStore

if TYPE_CHECKING:  # a name in the signatures only: the review API imports this package, not the policies
    from aiflows_runtime.policies import BreakerSettings

Clock = Callable[[], float]


class CircuitBreaker:
    """Opens after N failures in a window; after a pause lets one probe through.

    One breaker per model, shared by every instance through its store. Every change
    is a write on the version it read, so two instances that race never both claim
    the half-open probe.
    """

    def __init__(self, store: BreakerStore, settings: BreakerSettings, clock: Clock = time.time) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    @property
    def store(self) -> BreakerStore:
        return self._store

    def read(self, model: str) -> BreakerState:
        return self._store.read(model)

    def allow(self, model: str, current: BreakerState | None = None) -> bool:
        """May a call go to this model now? Claims the half-open probe when it is due."""
        return self.admit(model, current) is not None

    def admit(self, model: str, current: BreakerState | None = None) -> BreakerState | None:
        """:meth:`allow`, answered with the state the call goes on (None: refused).

        ``current``: the state just read (with the cached answer, in one request); read here
        when not given. A claimed probe is returned as written (half-open, its new version).
        """
        current = current if current is not None else self._store.read(model)
        now = self._clock()
        if current.state == CLOSED:
            return current
        probe_due = (current.state == OPEN and now >= current.opened_at + self._settings.open_seconds) or (
            current.state == HALF_OPEN and now >= current.probe_until
        )
        if not probe_due:
            return None
        claimed = BreakerState(**{**asdict(current), "state": HALF_OPEN})
        claimed.probe_until = now + self._settings.probe_lease_seconds
        if not self._store.write(model, claimed, current.version):
            return None
        claimed.version = current.version + 1
        return claimed

    def record_success(self, model: str, seen: BreakerState | None = None) -> None:
        """Closed, failures forgotten; written only when that changes the state.

        ``seen``: the state the call was admitted on (:meth:`admit`), when nothing of this
        call changed it since. Closed with no failures, nothing is written; otherwise the
        closed state is written on its version, and only when another writer came first is it
        read again. Without ``seen`` it is read first (:meth:`close`).
        """
        if seen is not None:
            if seen.state == CLOSED and not seen.failures:
                return
            if self._store.write(model, BreakerState(), seen.version):
                return
        self._update(model, _closed)

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
        written = self._update(model, _closed)
        return written or self._store.read(model)

    def _update(
        self, model: str, change: Callable[[BreakerState, float], BreakerState | None]
    ) -> BreakerState | None:
        """Apply a change with optimistic locking; the state written, or None if none was needed."""
        for _ in range(5):
            current = self._store.read(model)
            wanted = change(current, self._clock())
            if wanted is None:
                return None
            if self._store.write(model, wanted, current.version):
                return wanted
        raise RuntimeError(f"breaker of {model}: too much contention to record the outcome")


def _closed(state: BreakerState, now: float) -> BreakerState | None:
    """Closed with no failures, or None when it already is."""
    return BreakerState() if state.state != CLOSED or state.failures else None
