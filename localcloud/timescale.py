"""A time scale for the local cloud's waits and timeouts.

Production definitions wait for real: Retry intervals, Wait states, TimeoutSeconds
and HeartbeatSeconds. With a scale of 0.01 a 20 s retry interval takes 0.2 s, so
tests run the definitions as they are deployed instead of editing them.

Waits (Retry intervals, Wait states, an SQS visibility timeout) scale all the way
down. Timeouts (TimeoutSeconds, HeartbeatSeconds) guard work that runs at real
speed, a handler or a worker, so a scaled timeout never falls below
``min(timeout, floor)``: a 30 s task timeout at 0.01 gives a handler 5 s, not
0.3 s, with the default 5 s floor. The interpreter's clocks are patched in
:mod:`localcloud.patches.stepfunctions.clock`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeScale:
    scale: float = 1.0
    floor: float = 5.0

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"time scale must be positive, got {self.scale}")
        if self.floor < 0:
            raise ValueError(f"timeout floor must not be negative, got {self.floor}")

    def wait(self, seconds: float | None) -> float | None:
        """A wait on the time scale."""
        return None if seconds is None else seconds * self.scale

    def timeout(self, seconds: float | None) -> float | None:
        """A timeout on the time scale, never below ``min(seconds, floor)``."""
        if seconds is None:
            return None
        return max(seconds * self.scale, min(seconds, self.floor))
