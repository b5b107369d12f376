"""A time scale for moto's Step Functions interpreter.

Production definitions wait for real: Retry intervals, Wait states, TimeoutSeconds
and HeartbeatSeconds. With a scale of 0.01 a 20 s retry interval takes 0.2 s, so
tests run the definitions as they are deployed instead of editing them.

Waits (Retry intervals, Wait states) scale all the way down. Timeouts
(TimeoutSeconds, HeartbeatSeconds) guard work that runs at real speed, a handler
or a worker, so a scaled timeout never falls below ``min(timeout, floor)``: a 30 s
task timeout at 0.01 gives a handler 5 s, not 0.3 s, with the default 5 s floor.

The interpreter measures these waits in five places, each patched here: the
retrier's ``time.sleep``, the Wait state's clock, and the ``threading.Event`` /
``Thread.join`` timeouts behind TimeoutSeconds, HeartbeatSeconds and the
execution's own TimeoutSeconds.
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any

_scale = 1.0
_floor = 5.0


def set_scale(scale: float, timeout_floor: float = 5.0) -> None:
    if not scale > 0:
        raise ValueError(f"time scale must be positive, got {scale}")
    if timeout_floor < 0:
        raise ValueError(f"timeout floor must not be negative, got {timeout_floor}")
    global _scale, _floor
    _scale, _floor = float(scale), float(timeout_floor)


def get_scale() -> float:
    return _scale


def scaled(seconds: float | None) -> float | None:
    """A wait on the time scale."""
    return None if seconds is None else seconds * _scale


def scaled_timeout(seconds: float | None) -> float | None:
    """A timeout on the time scale, never below ``min(seconds, floor)``."""
    if seconds is None:
        return None
    return max(seconds * _scale, min(seconds, _floor))


class ScaledEvent(threading.Event):
    """An event whose waits run on the time scale (Wait states)."""

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(scaled(timeout))


class TimeoutEvent(threading.Event):
    """An event whose timeouts run on the time scale, with the floor (TimeoutSeconds, heartbeats)."""

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(scaled_timeout(timeout))


class TimeoutThread(threading.Thread):
    """A thread joined with a scaled timeout (the execution's own TimeoutSeconds)."""

    def join(self, timeout: float | None = None) -> None:
        super().join(scaled_timeout(timeout))


def _module_proxy(base: types.ModuleType, **overrides: Any) -> types.ModuleType:
    proxy = types.ModuleType(f"localcloud.scaled.{base.__name__}")
    proxy.__dict__.update({k: v for k, v in vars(base).items() if not k.startswith("__")})
    proxy.__dict__.update(overrides)
    return proxy


_installed = False


def install() -> None:
    """Patch moto's interpreter once per process; the scale can change at any time."""
    global _installed
    if _installed:
        return
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
    from moto.stepfunctions.parser.asl.eval import environment
    from moto.stepfunctions.parser.asl.eval.callback import callback

    retrier_decl.time = _module_proxy(time, sleep=lambda s: time.sleep(scaled(s) or 0))
    # The Wait state re-waits whatever its clock says is left: give it scaled seconds.
    wait_function.time = _module_proxy(time, time=lambda: time.time() / _scale)
    environment.threading = _module_proxy(threading, Event=ScaledEvent)
    timeouts = _module_proxy(threading, Event=TimeoutEvent, Thread=TimeoutThread)
    for module in (execute_state, program):
        module.threading = timeouts
    callback.Event = TimeoutEvent
    _installed = True
