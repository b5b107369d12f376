"""The one place that builds the powertools Logger, Tracer and Metrics.

Every handler uses :func:`capability_handler`, which stacks the decorators in one
order: the logger (with the run's correlation id), the tracer, the metrics. Traces
and logs carry ids, names, scores, tokens and costs, never document content: the
tracer does not record responses, and nothing here logs an event. The
tracer annotates each trace with correlation_id, flow and capability, and each
model call adds model_id and prompt_version. Tracing stays behind this module so
that it can move from the X-Ray SDK to OpenTelemetry without touching a handler:
handlers trace with :func:`capability_handler`, :func:`trace_handler` and
:func:`trace_method`, never with the tracer itself.

The tracer is built on the first traced call, not at import: building the powertools
Tracer imports the X-Ray SDK and patches the AWS SDK, the largest part of a handler's
cold start otherwise (docs/capabilities.md#cold-start). The SDK's patches act on
botocore's and http.client's classes, so a client made earlier is traced too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from aiflows_runtime import invocation

if TYPE_CHECKING:
    from aiflows_runtime.gateway import RunContext
    from aiflows_runtime.state import LedgerEntry

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "aiflows")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AiFlows")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

Handler = Callable[[dict[str, Any], Any], Any]
F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _tracer() -> Tracer:
    """The one powertools Tracer, built on first use: building it imports the X-Ray SDK."""
    return Tracer(service=SERVICE)


def _traced(fn: F, decorate: Callable[[Tracer, F], Callable[..., Any]]) -> F:
    """``fn`` under the tracer's decorator, applied on the first call (when the tracer is built)."""
    traced = functools.cache(lambda: decorate(_tracer(), fn))

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return traced()(*args, **kwargs)

    return cast(F, call)


def trace_handler(fn: F) -> F:
    """A Lambda handler's subsegment (``## <name>``, with ``cold_start``); its response is not recorded."""
    # A step's response holds document content (fields, summaries): it never goes to a trace.
    return _traced(fn, lambda tracer, f: tracer.capture_lambda_handler(f, capture_response=False))


def trace_method(fn: F) -> F:
    """A subsegment (``## <name>``) around each call of a function; its result is not recorded."""
    return _traced(fn, lambda tracer, f: tracer.capture_method(capture_response=False)(f))


def capability_handler(capability: str) -> Callable[[Handler], Handler]:
    """Stack the observability decorators the same way on every handler."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def annotated(event: dict[str, Any], context: Any) -> Any:
            invocation.begin(context)
            run = event if isinstance(event, dict) else {}
            tracer = _tracer()
            tracer.put_annotation("capability", capability)
            for key in ("correlation_id", "flow"):
                if run.get(key):
                    tracer.put_annotation(key, str(run[key]))
            logger.append_keys(capability=capability, flow=run.get("flow"))
            metrics.add_dimension(name="capability", value=capability)
            try:
                result = fn(event, context)
            except Exception as exc:
                metrics.add_metric(name="StepFailed", unit=MetricUnit.Count, value=1)
                # The error's name only: its message may quote the input (the flow's history keeps it).
                logger.error("step failed", extra={"exception_name": type(exc).__name__})
                raise
            metrics.add_metric(name="StepSucceeded", unit=MetricUnit.Count, value=1)
            return result

        return logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)(
            trace_handler(metrics.log_metrics(annotated))
        )

    return wrap


def record_model_call(run: RunContext, entry: LedgerEntry) -> None:
    """One model call: trace annotations and metadata, EMF metrics, a log line."""
    tracer = _tracer()
    tracer.put_annotation("model_id", entry.model_id)
    tracer.put_annotation("prompt_version", entry.prompt_id)
    tracer.put_annotation("tenant", entry.tenant)
    tracer.put_metadata(
        "model_call",
        {
            "input_tokens": entry.input_tokens,
            "output_tokens": entry.output_tokens,
            "cost_usd": entry.cost_usd,
            "cache_hit": entry.cache_hit,
            "outcome": entry.outcome,
        },
    )
    _emit(
        {
            "InputTokens": (entry.input_tokens, MetricUnit.Count),
            "OutputTokens": (entry.output_tokens, MetricUnit.Count),
            "CostUSD": (entry.cost_usd, MetricUnit.NoUnit),
            "ModelLatency": (entry.latency_ms, MetricUnit.Milliseconds),
            "CacheHits": (int(entry.cache_hit), MetricUnit.Count),
        },
        flow=entry.flow,
        capability=entry.capability,
        model=entry.model_id,
        tenant=entry.tenant,
    )
    # The flow's spend on its own: the cost-per-run alarm divides it by the runs started.
    _emit({"FlowCostUSD": (entry.cost_usd, MetricUnit.NoUnit)}, flow=entry.flow)
    logger.info(
        "model call",
        extra={
            "model_id": entry.model_id,
            "prompt_version": entry.prompt_id,
            "input_tokens": entry.input_tokens,
            "output_tokens": entry.output_tokens,
            "cost_usd": entry.cost_usd,
            "cache_hit": entry.cache_hit,
            "outcome": entry.outcome,
            "correlation_id": run.correlation_id,
        },
    )


def record_breaker_open(model: str, why: str) -> None:
    """A breaker opened, or refused a call while open: the breaker-open alarm counts these."""
    _emit({"BreakerOpen": (1, MetricUnit.Count)})
    logger.warning("circuit breaker open", extra={"model_id": model, "why": why})


def record_pending_reviews(count: int) -> None:
    """How many reviews wait for a person, measured after each change (the dashboard's gauge)."""
    _emit({"PendingReviews": (count, MetricUnit.Count)})


def _emit(values: dict[str, tuple[float, MetricUnit]], **dimensions: str) -> None:
    """Metrics in an EMF record of their own, with exactly these dimensions (plus the service)."""
    record = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for key, dimension in dimensions.items():
        record.add_dimension(name=key, value=dimension)
    for name, (value, unit) in values.items():
        record.add_metric(name=name, unit=unit, value=value)
    record.flush_metrics()


def record_guard(flow: str, stage: str, outcome: str, policy_version: str, kinds: list[str]) -> None:
    """A guard verdict: trace annotations (outcome, policy version), a metric, a log line."""
    tracer = _tracer()
    tracer.put_annotation("guard_outcome", outcome)
    tracer.put_annotation("guard_policy", policy_version)
    tracer.put_metadata("guard", {"stage": stage, "outcome": outcome, "findings": kinds})
    _emit({"GuardOutcome": (1, MetricUnit.Count)}, flow=flow, stage=stage, outcome=outcome)
    logger.info(
        "guard verdict",
        extra={"stage": stage, "outcome": outcome, "policy_version": policy_version, "findings": kinds},
    )
