"""The one place that builds the powertools Logger, Tracer and Metrics.

Every handler imports ``logger``, ``tracer`` and ``metrics`` from here and stacks
the decorators in the same order (see ``handler`` below). Tracing stays behind
this module so that it can move from the X-Ray SDK to OpenTelemetry without
touching a handler.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "aiflows")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE)

Handler = Callable[[dict[str, Any], Any], Any]


def capability_handler(capability: str) -> Callable[[Handler], Handler]:
    """Stack the observability decorators the same way on every handler.

    The correlation id travels in the step input as ``correlation_id``; the
    logger carries it on every line and the tracer annotates the trace with it.
    """

    def wrap(fn: Handler) -> Handler:
        def annotated(event: dict[str, Any], context: Any) -> Any:
            correlation_id = event.get("correlation_id") if isinstance(event, dict) else None
            tracer.put_annotation("capability", capability)
            if correlation_id:
                tracer.put_annotation("correlation_id", str(correlation_id))
            logger.append_keys(capability=capability)
            return fn(event, context)

        annotated.__name__ = fn.__name__
        annotated.__doc__ = fn.__doc__
        return logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)(
            tracer.capture_lambda_handler(metrics.log_metrics(annotated))
        )

    return wrap
