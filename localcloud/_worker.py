"""One Lambda execution environment: a warm process that runs one function's handler.

The local cloud starts this file with ``python -I`` (isolated: no PYTHON* variables,
no script folder on ``sys.path``) and with the function's own environment, so each
function has its own ``os.environ`` and ``sys.modules``, as on Lambda. It imports
only the standard library before the handler's module.

Or the environment template (``environment_template.py``) forks it: a process started the
same way, which has imported the heavy third-party packages every handler imports, gives
the child the pipes, the environment and the folder, and calls :func:`main`. So this
module does nothing at import, and :func:`main` reads only fds 0, 1 and 2 and ``os.environ``.

Protocol, one JSON document per line:
- the parent writes the init message ``{"paths": [...], "handler": "module.func"}``
  on stdin; the worker answers ``{"ready": true, "init_ms": ...}`` or
  ``{"ready": false, "error": {...}}``;
- then, for each invocation, the parent writes ``{"event": ..., "context": {...}}``;
  the worker answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {...}}``.

The answers travel on a private copy of the original stdout; the handler's own
prints and log lines go to stderr, which the parent forwards to CloudWatch Logs. Before it
answers an invocation, the worker ends its log lines with :data:`LOGS_WRITTEN`: the parent
reads stderr in a thread of its own, and closes the invocation's log once it has read that far.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

# the line that ends an invocation's log lines on stderr (never logged): "\x1e" separates records
LOGS_WRITTEN = "\x1elocalcloud:logs-written"


class LambdaContext:
    """The context object that the Lambda runtime passes to a handler."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.function_name: str = spec["function_name"]
        self.function_version: str = spec["function_version"]
        self.invoked_function_arn: str = spec["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(spec["memory_limit_in_mb"])
        self.aws_request_id: str = spec["aws_request_id"]
        self.log_group_name: str = spec["log_group_name"]
        self.log_stream_name: str = spec["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(spec["timeout_seconds"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        # Lambda shows the handler's frames, not the runtime's own.
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


def main() -> None:
    """Serve the init message and then the invocations on stdin, until stdin closes."""
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # handler prints go to the log stream, never into the protocol
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)

    def answer(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    def logs_written() -> None:
        """Everything the invocation logged is in the pipe, the marker last: the parent reads up to it
        before it closes the invocation's log (it reads this pipe in a thread of its own)."""
        sys.stdout.flush()
        sys.stderr.write(LOGS_WRITTEN + "\n")
        sys.stderr.flush()

    init = json.loads(sys.stdin.readline())
    sys.path[:0] = init["paths"]
    module_name, _, function_name = init["handler"].rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the caller as Lambda does
        error_type = (
            "Runtime.ImportModuleError"
            if isinstance(exc, ImportError)
            else "Runtime.HandlerNotFound"
            if isinstance(exc, AttributeError)
            else type(exc).__name__
        )
        answer({"ready": False, "error": _error(exc, error_type)})
        return
    answer({"ready": True, "init_ms": (time.perf_counter() - started) * 1000})

    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["context"])
        os.environ["_X_AMZN_TRACE_ID"] = request["context"].get("trace_header", "")
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # noqa: BLE001 - an unhandled error is the invocation's result
            error = _error(exc)
            sys.stderr.write(json.dumps({"level": "ERROR", "message": "unhandled", **error}) + "\n")
            logs_written()
            answer({"ok": False, "error": error})
            continue
        logs_written()
        try:
            answer({"ok": True, "result": json.loads(json.dumps(result))})
        except (TypeError, ValueError) as exc:
            answer({"ok": False, "error": _error(exc, "Runtime.MarshalError")})


if __name__ == "__main__":
    main()
