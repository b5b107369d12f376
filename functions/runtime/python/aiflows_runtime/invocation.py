"""The invocation in progress: its Lambda context, which every handler's decorator registers.

What needs the time left (the model gateway's deadlines) asks here, so no function
signature has to carry the context. Outside Lambda (a test, the CLI) there is no
deadline: the time left is infinite.
"""

from __future__ import annotations

import math
from typing import Any

_current: dict[str, Any] = {"context": None}


def begin(context: Any) -> None:
    """The handler was called with this context (one invocation at a time per environment)."""
    _current["context"] = context if hasattr(context, "get_remaining_time_in_millis") else None


def remaining_seconds() -> float:
    """Seconds until Lambda stops this invocation; infinite outside Lambda."""
    context = _current["context"]
    if context is None:
        return math.inf
    return float(context.get_remaining_time_in_millis()) / 1000.0
