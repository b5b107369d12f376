"""Deadlines: how long one model call may take, and the worst case of a model state.

The gateway's retries and the state's Retry are designed together:

- one call lasts at most ``connect_timeout + read_timeout`` (botocore's own retries
  are off), so a hanging model costs one call's time, not the function's;
- a call starts only when it fits in the time the invocation has left, less a
  margin to record it and return; a retry of the same model starts only when one
  call of every later model of the route still fits after it, so the primary
  and the fallback both get a chance;
- a function must hold one call of every model of its route and the margin, or the
  app refuses to build (:func:`minimum_function_seconds`);
- when no model could answer, the gateway raises ``ModelUnavailable`` before Lambda
  stops it, and the state's Retry (``[task]`` of the capability's manifest) brings a
  fresh invocation.

:func:`worst_case` is the bound that follows, per state: ``docs/capabilities.md``
prints it for every capability, and ``tests/unit/test_deadlines.py`` drives the real
gateway against hanging and throttling models to show that it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiflows_runtime.manifest import CapabilityManifest, ModelRoute
from aiflows_runtime.policies import GatewaySettings

REPAIRS_PER_MODEL = 1  # a malformed answer is shown to the same model once


def call_seconds(gateway: GatewaySettings) -> float:
    """The longest one model call can take: connecting, then waiting for the answer."""
    return gateway.connect_timeout_seconds + gateway.read_timeout_seconds


def minimum_function_seconds(route: ModelRoute, gateway: GatewaySettings) -> float:
    """The shortest function timeout that holds one call of every model of the route, and the margin."""
    return len(route.models) * call_seconds(gateway) + gateway.deadline_margin_seconds


@dataclass(frozen=True)
class WorstCase:
    """The most a model state can do before it succeeds or fails for good."""

    invocations: int  # the first, and every retry of the state
    calls_per_invocation: int  # when every call fails fast (throttling, malformed answers)
    hanging_calls_per_invocation: int  # when every call hangs until its read timeout
    seconds_per_invocation: float
    retry_delay_seconds: float  # the longest the state's Retry may wait, all intervals together

    @property
    def calls(self) -> int:
        return self.invocations * self.calls_per_invocation

    @property
    def seconds(self) -> float:
        return self.invocations * self.seconds_per_invocation + self.retry_delay_seconds


def worst_case(manifest: CapabilityManifest, gateway: GatewaySettings) -> WorstCase:
    """The worst case of a state that invokes this capability, with the house Retry woven in."""
    route = manifest.model
    if route is None:
        raise ValueError("a capability without a [model] route makes no model calls")
    task = manifest.task
    by_attempts = len(route.models) * (gateway.attempts_per_model + REPAIRS_PER_MODEL)
    usable = manifest.timeout_seconds - gateway.deadline_margin_seconds
    delays = sum(
        min(task.interval_seconds * task.backoff_rate**n, task.max_delay_seconds)
        for n in range(task.max_attempts)
    )
    return WorstCase(
        invocations=1 + task.max_attempts,
        calls_per_invocation=by_attempts,
        hanging_calls_per_invocation=min(by_attempts, max(0, int(usable // call_seconds(gateway)))),
        seconds_per_invocation=float(min(task.timeout_seconds, manifest.timeout_seconds)),
        retry_delay_seconds=float(delays),
    )
