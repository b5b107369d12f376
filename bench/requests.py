"""AWS requests per invocation of each model-calling capability: printed figures, not assertions.

    .venv/bin/python -m bench.requests        (make bench prints it too)

Each capability whose Task asks a model (classify, extract, summarize, triage...) is invoked
in this process, as its Lambda would be, against a local cloud (moto's server and the local
model as Bedrock) with a state table like the stacks'. Requests are counted from botocore's
own ``before-send`` event, one per HTTP request sent (a retry is one more), in this thread
only (the local cloud's server threads make none of the function's requests).

Three paths per capability, each a fresh run of the same document:

- ``uncached``: the first call of a run (the flow's budget set, so the call holds its worst case);
- ``cached``: another run asks the same (the route's answer cache answers; a route that is not
  cacheable calls the model again);
- ``repeat``: the same input delivered again (idempotency answers with the stored result).

The goal (issue 16): at most 3 DynamoDB requests per uncached model call, idempotency
included, and 1 per cached call. The table counts both ways: every DynamoDB request, and the
gateway's own (every request but idempotency's). The uncached goal is checked on every request;
the cached one on the gateway's own, because idempotency writes the record on every path that
runs the step (its completion, which carries the call's ledger line and cached answer:
``aiflows_runtime/state/idempotency.py``). A request of idempotency's client is idempotency's;
the deferred claim goes in the gateway's hold, a request of its own client.
"""

from __future__ import annotations

import argparse
import importlib
import os
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.warnings import PowertoolsUserWarning

from aiflows.registry import CapabilityInfo, capabilities, capability_module
from aiflows.testing import new_execution_environment, state_table_like_the_stacks

# the goal per path, and what it counts: every DynamoDB request ("all"), or the gateway's own ("own")
GOAL = {"uncached": (3, "all"), "cached": (1, "own")}
IDEMPOTENCY = "idempotency"  # the label of the requests of Powertools' idempotency layer
BUDGET_USD = 0.05  # document_intake's (statemachines/document_intake/flow.toml)
DOCUMENT = {
    "document_id": "bench-1",
    "tenant": "acme",
    "title": "Invoice 7 from Northwind",
    "text": (
        "INVOICE INV-7. Bill to: ACME Corp. Date: 2026-11-02. Payment terms: 30 days. "
        "Amount due: 1,250.00 EUR including VAT. Questions: billing@northwind.example."
    ),
}


class RequestCounter:
    """The AWS requests botocore sends, as (service, operation), counted from its ``before-send`` event.

    Attach it to a boto3 Session's or a client's event emitter (``session.events``,
    ``client.meta.events``); a client copies its session's handlers when it is made. Only the
    thread that made the counter is counted. The handler runs first and answers nothing, so a
    stub that answers ``before-send`` (moto's in-process mock) still sends its response.
    """

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._thread = threading.get_ident()

    def attach(self, emitter: Any, label: str = "") -> RequestCounter:
        """Count what clients of this emitter send; ``label`` names them (``idempotency``)."""

        def count(event_name: str, **kwargs: Any) -> None:
            if threading.get_ident() == self._thread:
                _, service, operation = event_name.split(".", 2)
                self.sent.append(Sent(service, operation, label))

        # one handler per counter and emitter, however often attached (a client copies its session's)
        emitter.register_first("before-send", count, unique_id=f"request-counter-{id(self)}")
        return self

    def of(self, service: str) -> list[str]:
        return [s.operation for s in self.sent if s.service == service]

    def take(self) -> list[Sent]:
        """The requests counted so far; the count starts again."""
        sent, self.sent = self.sent, []
        return sent


@dataclass(frozen=True)
class Sent:
    service: str  # botocore's service id, hyphenated: dynamodb, bedrock-runtime
    operation: str
    label: str = ""


@dataclass(frozen=True)
class Row:
    capability: str
    path: str
    every: list[Sent]
    cacheable: bool = True

    @property
    def dynamodb(self) -> list[str]:
        return [s.operation for s in self.every if s.service == "dynamodb"]

    @property
    def idempotency(self) -> int:
        return sum(1 for s in self.every if s.service == "dynamodb" and s.label == IDEMPOTENCY)

    @property
    def own(self) -> int:
        """The DynamoDB requests that are not idempotency's: the gateway's (breaker, cache, ledger)."""
        return len(self.dynamodb) - self.idempotency

    @property
    def goal(self) -> tuple[int, str] | None:
        """The issue's goal for this path and what it counts; none for a route with no answer cache,
        asked again."""
        return GOAL.get(self.path) if self.cacheable or self.path != "cached" else None

    @property
    def over(self) -> bool:
        """Over the goal, counted as the goal counts."""
        if self.goal is None:
            return False
        most, counts = self.goal
        return (len(self.dynamodb) if counts == "all" else self.own) > most


def model_capabilities() -> list[CapabilityInfo]:
    """The capabilities a Task calls that ask a model (the queue's worker answers a task token instead)."""
    return sorted(
        (
            info
            for info in capabilities().values()
            if info.manifest.model is not None and not info.manifest.reaches.work_queue
        ),
        key=lambda info: info.name,
    )


class _Context:
    """The parts of the Lambda context the handlers read."""

    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cold_start(capability: str, counter: RequestCounter) -> Any:
    """The capability's handler, as a new execution environment builds it, its clients counted."""
    import boto3

    from aiflows_runtime import capability as runtime

    new_execution_environment()
    boto3.setup_default_session()  # the clients of clients.client and the gateway's Bedrock come from it
    counter.attach(boto3.DEFAULT_SESSION.events)
    handler = importlib.reload(capability_module(capability))
    # Powertools makes its own session: its client is counted apart (the layer the step claims on)
    for defer_claim in (False, True):
        counter.attach(runtime._persistence(defer_claim).client.meta.events, IDEMPOTENCY)
    return handler


def measure(infos: list[CapabilityInfo] | None = None) -> list[Row]:
    from localcloud import LocalCloud

    warnings.filterwarnings("ignore", category=PowertoolsUserWarning)  # a dimension set twice, by design

    rows: list[Row] = []
    with LocalCloud() as cloud:
        for info in infos or model_capabilities():
            table = state_table_like_the_stacks(cloud.client("dynamodb"), f"bench-{info.name}")
            env = {
                "AWS_ENDPOINT_URL": cloud.endpoint,
                "STATE_TABLE_NAME": table,
                "POWERTOOLS_METRICS_NAMESPACE": "AiFlows",
                "POWERTOOLS_SERVICE_NAME": "aiflows",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",  # the figures here are the requests, not the EMF
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
            with _environment(env):
                counter = RequestCounter()
                handler = _cold_start(info.name, counter)
                context = _Context()

                def invoke(correlation_id: str, handler: Any = handler, context: Any = context) -> None:
                    event = {
                        "correlation_id": correlation_id,
                        "flow": "bench",
                        "budget_usd": BUDGET_USD,
                        "document": DOCUMENT,
                    }
                    handler.lambda_handler(event, context)

                for path, run in (("uncached", "run-1"), ("cached", "run-2"), ("repeat", "run-2")):
                    counter.take()
                    invoke(f"bench-{info.name}-{run}")
                    cacheable = info.manifest.model is not None and info.manifest.model.cacheable
                    rows.append(Row(info.name, path, counter.take(), cacheable))
    return rows


def table(rows: list[Row]) -> str:
    head = f"  {'capability':<12} {'path':<9} {'DynamoDB':>8} {'idempotency':>11} {'own':>3} {'goal':>9}"
    lines = [f"{head}   {'all AWS':>7}  DynamoDB requests"]
    for row in rows:
        if row.goal is not None:
            goal = f"<={row.goal[0]} {row.goal[1]}"
        else:
            goal = "n/c" if row.path == "cached" else "-"
        ops = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in Counter(row.dynamodb).items())
        lines.append(
            f"  {row.capability:<12} {row.path:<9} {len(row.dynamodb):>8} {row.idempotency:>11} {row.own:>3}"
            f" {goal:>9} {'!' if row.over else '':<1} {len(row.every):>7}  {ops}"
        )
    return "\n".join(lines)


LEGEND = """\
AWS requests per invocation (botocore before-send). DynamoDB: every request, idempotency's included;
idempotency: the requests of Powertools' client (the completion, whose transaction also carries the
call's ledger line and cached answer; a claim sent alone); own: the others, the gateway's (a deferred
claim rides on its hold). goal: uncached, of every request ("all"); cached, of the gateway's own
("own": idempotency writes the record on every path that runs the step).
! = over the goal; n/c = the route is not cacheable: its second run calls the model again"""


def report(rows: list[Row]) -> None:
    print(LEGEND)
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--capability", action="append", help="only these (default: every model caller)")
    args = parser.parse_args()
    infos = model_capabilities()
    if args.capability:
        infos = [i for i in infos if i.name in set(args.capability)]
    report(measure(infos))


if __name__ == "__main__":
    main()
