"""The Step Functions interpreter's clocks, on the cloud's time scale.

The interpreter measures its waits in five places, each patched here: the
retrier's ``time.sleep``, the Wait state's clock, and the ``threading.Event`` /
``Thread.join`` timeouts behind TimeoutSeconds, HeartbeatSeconds and the
execution's own TimeoutSeconds. Waits scale all the way down; timeouts keep the
floor (:class:`localcloud.timescale.TimeScale`).
"""

from __future__ import annotations

import threading
import time
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def _module_proxy(base: types.ModuleType, **overrides: Any) -> types.ModuleType:
    proxy = types.ModuleType(f"localcloud.scaled.{base.__name__}")
    proxy.__dict__.update({k: v for k, v in vars(base).items() if not k.startswith("__")})
    proxy.__dict__.update(overrides)
    return proxy


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
    from moto.stepfunctions.parser.asl.eval import environment
    from moto.stepfunctions.parser.asl.eval.callback import callback

    scale = cloud.time

    class ScaledEvent(threading.Event):
        """Waits on the time scale (Wait states)."""

        def wait(self, timeout: float | None = None) -> bool:
            return super().wait(scale.wait(timeout))

    class TimeoutEvent(threading.Event):
        """Timeouts on the time scale, with the floor (TimeoutSeconds, heartbeats)."""

        def wait(self, timeout: float | None = None) -> bool:
            return super().wait(scale.timeout(timeout))

    class TimeoutThread(threading.Thread):
        """A thread joined with a scaled timeout (the execution's own TimeoutSeconds)."""

        def join(self, timeout: float | None = None) -> None:
            super().join(scale.timeout(timeout))

    patches.replace(retrier_decl, "time", _module_proxy(time, sleep=lambda s: time.sleep(scale.wait(s) or 0)))
    # The Wait state re-waits whatever its clock says is left: give it scaled seconds.
    patches.replace(wait_function, "time", _module_proxy(time, time=lambda: time.time() / scale.scale))
    patches.replace(environment, "threading", _module_proxy(threading, Event=ScaledEvent))
    timeouts = _module_proxy(threading, Event=TimeoutEvent, Thread=TimeoutThread)
    for module in (execute_state, program):
        patches.replace(module, "threading", timeouts)
    patches.replace(callback, "Event", TimeoutEvent)
