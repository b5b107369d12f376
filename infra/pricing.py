"""What a flow costs per 1,000 runs, computed from the definition that deploys and the measured requests.

    .venv/bin/python -m infra.pricing [<flow> ...]    every line of the bill (docs/flows.md quotes it)
    .venv/bin/python -m infra.pricing --write-docs    and quote it in docs/flows.md again

For each path a flow's ``[pricing]`` names, and for the uncached run against the cached one
(another run asked the same: each cacheable model route answers from its cache), it prices:

- the state transitions (Standard), or the request and duration of an Express run, where the flow
  fits Express (:func:`express_misfit`); a Distributed Map bills a transition per child it starts,
  and its Express children as Express runs;
- the Lambda invocations and GB-seconds, at each capability's ``memory_mb``, in 1 ms steps, for
  the durations :data:`STEP_MS` and :func:`model_call_ms` assume (nothing offline knows better);
- the DynamoDB requests: the definition's own ``dynamodb:*`` Tasks, and the requests of each
  model-calling step as ``bench.requests`` measures them against the local cloud, on this code;
- the custom events put on the bus: the definition's ``events:putEvents`` entries, the trigger
  event that starts the run, and one per invocation of a capability that reaches the bus;
- the tokens of the model calls the measurement counts, at the route's primary model's price
  (routing.toml, :meth:`~aiflows_runtime.policies.ModelPrice.cost`): the prompt with a document of
  ``[pricing] document_chars``, estimated as the gateway estimates it, and ``max_tokens`` out,
  the worst case the gateway holds against the budget.

Prices are us-east-1 list prices (November 2026). Not priced: S3, SQS, CloudWatch, X-Ray, KMS.

Each flow's README.md quotes :func:`render` (orchestration only, computed offline: no
measurement); :func:`report` is what this command prints, measurement included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from aiflows.flows import FlowInfo
    from aiflows.registry import CapabilityInfo

# Step Functions (https://aws.amazon.com/step-functions/pricing/)
STANDARD_PER_TRANSITION = 0.000025  # USD, $0.025 per 1,000 state transitions
EXPRESS_PER_REQUEST = 0.000001  # USD, $1.00 per million requests
EXPRESS_PER_GB_SECOND = 0.00001667  # USD, the first tier
EXPRESS_MIN_MEMORY_GB = 64 / 1024  # billed at 64 MB at least, in 100 ms steps
EXPRESS_MAX_SECONDS = 300  # an Express run lasts five minutes at most
# Lambda (https://aws.amazon.com/lambda/pricing/): the stack builds arm64 functions
# (infra/constructs/capability_function.py), whose first tier is $0.0000133334 (x86: $0.0000166667)
LAMBDA_PER_GB_SECOND = 0.0000133334  # USD, arm64
LAMBDA_PER_REQUEST = 0.0000002  # USD, $0.20 per million requests
# DynamoDB on demand (https://aws.amazon.com/dynamodb/pricing/on-demand/, since the cut of 2024-11-01)
DYNAMODB_PER_WRITE_UNIT = 0.000000625  # USD, $0.625 per million write request units
DYNAMODB_PER_READ_UNIT = 0.000000125  # USD, $0.125 per million read request units
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
# EventBridge (https://aws.amazon.com/eventbridge/pricing/): custom events, up to 64 KB each
EVENTS_PER_ENTRY = 0.000001  # USD, $1.00 per million

# Assumed durations: what a run's functions take is not known offline, so these are stated
STEP_MS = 100  # an invocation's own work: parse, idempotency, a few in-region DynamoDB round trips
MODEL_FIRST_TOKEN_MS = 500  # a Converse call's time to its first token
MODEL_TOKENS_PER_SECOND = 100  # and its output speed, to max_tokens (the worst case, as the tokens)

CALLBACK_PATTERNS = (".waitForTaskToken", ".sync", ".sync:2")
Answers = Literal["uncached", "cached"]
ANSWERS: tuple[Answers, ...] = ("uncached", "cached")


@dataclass(frozen=True)
class ModelRoute:
    """What pricing needs of a capability's model route."""

    model: str  # the primary: a fallback is asked only when it fails
    prompt_chars: int  # the prompt template's own text (system and template), the document apart
    max_tokens: int
    cacheable: bool


@dataclass(frozen=True)
class Function:
    """What pricing needs of a capability's function."""

    name: str
    memory_mb: int
    puts_events: bool = False
    route: ModelRoute | None = None


@dataclass(frozen=True)
class Requests:
    """What one invocation of a function asks of AWS besides its model: measured, per answer path."""

    reads: int
    writes: int
    model_calls: int


Measured = Mapping[tuple[str, Answers], Requests]  # by (capability, answers)


def model_call_ms(route: ModelRoute) -> int:
    return MODEL_FIRST_TOKEN_MS + math.ceil(route.max_tokens * 1000 / MODEL_TOKENS_PER_SECOND)


def model_calls(function: Function, answers: Answers, measured: Measured) -> int:
    """The model calls of one invocation: measured, else one unless a cacheable route answers from cache."""
    if (function.name, answers) in measured:
        return measured[function.name, answers].model_calls
    if function.route is None:
        return 0
    return 0 if answers == "cached" and function.route.cacheable else 1


def invocation_ms(function: Function, calls: int) -> int:
    return STEP_MS + (calls * model_call_ms(function.route) if function.route else 0)


def _on_path(definition: dict[str, Any], choices: Mapping[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The states entered on one path through the definition (not into branches), in order."""
    states = definition["States"]
    name: str = definition["StartAt"]
    seen: set[str] = set()
    while name:
        if name in seen:
            raise ValueError(f"the path loops at {name}")
        seen.add(name)
        state = states[name]
        yield name, state
        if state["Type"] == "Choice":
            name = choices.get(name, state.get("Default", ""))
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = ""
        else:
            name = state["Next"]


def _distributed(state: dict[str, Any]) -> bool:
    return state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"


def _express_children(state: dict[str, Any]) -> bool:
    return _distributed(state) and state["ItemProcessor"]["ProcessorConfig"].get("ExecutionType") == "EXPRESS"


def transitions(definition: dict[str, Any], choices: Mapping[str, str] | None = None, items: int = 1) -> int:
    """The state transitions one run on this path bills as a Standard workflow.

    ``choices`` names the state each Choice state goes to (its Default otherwise); a Map
    processes ``items`` items. Parallel branches count; a Distributed Map bills one transition per
    child it starts, plus the children's own when they are Standard (Express children bill as
    Express runs). A Task that retries enters its state once: count retries as extra transitions.
    """
    choices = choices or {}
    count = 0
    for _, state in _on_path(definition, choices):
        count += 1
        for branch in state.get("Branches", []):
            count += transitions(branch, choices, items)
        if "ItemProcessor" in state:
            child = transitions(state["ItemProcessor"], choices, items)
            if _express_children(state):
                count += items
            elif _distributed(state):
                count += items * (1 + child)
            else:
                count += items * child
    return count


def express_misfit(definition: dict[str, Any]) -> str | None:
    """Why the flow cannot run as an Express workflow, or None when it can.

    Express workflows support the Request Response pattern only: a Task that waits for a task
    token or for a job (``.waitForTaskToken``, ``.sync``) anywhere in the woven definition (a
    park is one) rules it out. A run longer than five minutes is checked per path, by duration.
    """
    waits = list(_callbacks(definition))
    if waits:
        shown = ", ".join(waits[:2]) + (", ..." if len(waits) > 2 else "")
        return f"waits for callbacks ({shown})"
    return None


def _callbacks(definition: dict[str, Any]) -> Iterator[str]:
    for name, state in definition["States"].items():
        if state["Type"] == "Task" and str(state.get("Resource", "")).endswith(CALLBACK_PATTERNS):
            yield name
        for inner in [
            *state.get("Branches", []),
            *([state["ItemProcessor"]] if "ItemProcessor" in state else []),
        ]:
            yield from _callbacks(inner)


def _arguments(state: dict[str, Any]) -> dict[str, Any]:
    arguments = state.get("Parameters", state.get("Arguments", {}))
    return arguments if isinstance(arguments, dict) else {}


def _bound(value: Any) -> str:
    """``Name`` of a ``${Name}`` placeholder, else ``""``."""
    text = str(value or "")
    return text[2:-1] if text.startswith("${") and text.endswith("}") else ""


@dataclass
class Bill:
    """What one run uses on a path, and its price; counts are per run."""

    transitions: int = 0  # billed as a Standard workflow
    duration_ms: int = 0  # a run's, through its Lambda time (Parallel branches side by side)
    express_children: int = 0  # Express runs a Distributed Map starts
    child_ms: int = 0  # each one's duration
    invocations: int = 0
    gb_seconds: float = 0.0
    reads: int = 0
    writes: int = 0
    events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_usd: float = 0.0  # per run
    unmeasured: set[str] = field(default_factory=set)  # capabilities whose DynamoDB requests are not known

    def add(self, other: Bill, times: int = 1) -> None:
        self.invocations += times * other.invocations
        self.gb_seconds += times * other.gb_seconds
        self.reads += times * other.reads
        self.writes += times * other.writes
        self.events += times * other.events
        self.input_tokens += times * other.input_tokens
        self.output_tokens += times * other.output_tokens
        self.tokens_usd += times * other.tokens_usd
        self.unmeasured |= other.unmeasured


@dataclass(frozen=True)
class Prices:
    """How a path is priced: the functions the definition names, and the figures of its manifest."""

    functions: Mapping[str, Function]  # by the ``${Name}`` a definition binds: ClassifyFunction
    queue_worker: Function | None = None  # the function a ``${WorkQueue}`` message reaches
    measured: Measured = field(default_factory=dict)
    document_chars: int = 4000
    map_items: int = 1
    cost: Callable[[str, int, int], float] = field(default=lambda model, i, o: 0.0)  # model, in, out -> USD


def _invoke(function: Function, answers: Answers, prices: Prices) -> tuple[Bill, int]:
    """One invocation of a function, and its duration in ms."""
    from aiflows_runtime.gateway import estimate_tokens

    calls = model_calls(function, answers, prices.measured)
    ms = invocation_ms(function, calls)
    bill = Bill(invocations=1, gb_seconds=function.memory_mb / 1024 * ms / 1000)
    bill.events = 1 if function.puts_events else 0
    measured = prices.measured.get((function.name, answers))
    if measured is None:
        bill.unmeasured.add(function.name)
    else:
        bill.reads, bill.writes = measured.reads, measured.writes
    if function.route and calls:
        tokens_in = estimate_tokens("x" * (function.route.prompt_chars + prices.document_chars))
        bill.input_tokens = calls * tokens_in
        bill.output_tokens = calls * function.route.max_tokens
        bill.tokens_usd = calls * prices.cost(function.route.model, tokens_in, function.route.max_tokens)
    return bill, ms


def _state(state: dict[str, Any], answers: Answers, prices: Prices) -> tuple[Bill, int]:
    """What a Task, not counting its transition, uses; and how long it holds the run (its Lambda time)."""
    if state["Type"] != "Task":
        return Bill(), 0
    resource, arguments = str(state.get("Resource", "")), _arguments(state)
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        function = prices.functions.get(_bound(arguments.get("FunctionName")))
        if function is not None:
            return _invoke(function, answers, prices)
    if resource.startswith("arn:aws:states:::sqs:sendMessage") and prices.queue_worker is not None:
        if _bound(arguments.get("QueueUrl")) == "WorkQueue":
            return _invoke(prices.queue_worker, answers, prices)
    if resource.startswith("arn:aws:states:::events:putEvents"):
        entries = arguments.get("Entries", [])
        return Bill(events=len(entries) if isinstance(entries, list) else 1), 0
    if resource.startswith(("arn:aws:states:::dynamodb:", "arn:aws:states:::aws-sdk:dynamodb:")):
        operation = resource.rsplit(":", 1)[1]
        read = operation[:1].upper() + operation[1:] in DYNAMODB_READS
        return Bill(reads=int(read), writes=int(not read)), 0
    return Bill(), 0


def bill(definition: dict[str, Any], choices: Mapping[str, str], answers: Answers, prices: Prices) -> Bill:
    """What one run on the path uses (the trigger event apart: the flow's manifest knows of it)."""
    total = Bill(transitions=transitions(definition, choices, prices.map_items))
    for _, state in _on_path(definition, choices):
        used, ms = _state(state, answers, prices)
        total.add(used)
        branch_ms = 0
        for branch in state.get("Branches", []):
            inner = bill(branch, choices, answers, prices)
            total.add(inner)
            total.express_children += inner.express_children
            branch_ms = max(branch_ms, inner.duration_ms)
        if "ItemProcessor" in state:
            child = bill(state["ItemProcessor"], choices, answers, prices)
            total.add(child, prices.map_items)
            if _express_children(state):
                total.express_children += prices.map_items
                total.child_ms = child.duration_ms
            branch_ms = child.duration_ms  # the items side by side
        total.duration_ms += ms + branch_ms
    return total


def express_per_thousand(duration_seconds: float, memory_gb: float = EXPRESS_MIN_MEMORY_GB) -> float:
    billed = math.ceil(round(duration_seconds * 10, 6)) / 10
    return 1000 * (
        EXPRESS_PER_REQUEST + max(memory_gb, EXPRESS_MIN_MEMORY_GB) * billed * EXPRESS_PER_GB_SECOND
    )


def standard_per_thousand(definition: dict[str, Any], choices: Mapping[str, str] | None = None) -> float:
    return transitions(definition, choices) * STANDARD_PER_TRANSITION * 1000


@dataclass(frozen=True)
class Row:
    """One path of one flow, per run and per 1,000 runs (USD)."""

    flow: str
    path: str
    answers: Answers
    deployed: Literal["STANDARD", "EXPRESS"]
    used: Bill
    express_seconds: float
    standard: float
    express: float | None  # None: the flow does not fit Express
    misfit: str
    lambda_usd: float
    dynamodb_usd: float
    events_usd: float
    tokens_usd: float

    @property
    def transitions(self) -> int:
        return self.used.transitions

    @property
    def total(self) -> float:
        orchestration = (
            self.express if self.deployed == "EXPRESS" and self.express is not None else self.standard
        )
        return orchestration + self.lambda_usd + self.dynamodb_usd + self.events_usd + self.tokens_usd


def price(
    flow: str,
    path: str,
    definition: dict[str, Any],
    choices: Mapping[str, str],
    answers: Answers,
    prices: Prices,
    *,
    deployed: Literal["STANDARD", "EXPRESS"] = "STANDARD",
    trigger_events: int = 0,
    express_seconds: float | None = None,
) -> Row:
    """One run on the path, priced per 1,000 runs."""
    used = bill(definition, choices, answers, prices)
    used.events += trigger_events
    seconds = express_seconds if express_seconds is not None else used.duration_ms / 1000
    misfit = express_misfit(definition) or (
        f"a run lasts over {EXPRESS_MAX_SECONDS // 60} minutes" if seconds > EXPRESS_MAX_SECONDS else ""
    )
    children = used.express_children * express_per_thousand(used.child_ms / 1000)
    return Row(
        flow=flow,
        path=path,
        answers=answers,
        deployed=deployed,
        used=used,
        express_seconds=seconds,
        standard=used.transitions * STANDARD_PER_TRANSITION * 1000 + children,
        express=None if misfit else express_per_thousand(seconds) + children,
        misfit=misfit,
        lambda_usd=1000 * (used.gb_seconds * LAMBDA_PER_GB_SECOND + used.invocations * LAMBDA_PER_REQUEST),
        dynamodb_usd=1000 * (used.reads * DYNAMODB_PER_READ_UNIT + used.writes * DYNAMODB_PER_WRITE_UNIT),
        events_usd=1000 * used.events * EVENTS_PER_ENTRY,
        tokens_usd=1000 * used.tokens_usd,
    )


# -- the shipped flows ---------------------------------------------------------------------------


def function_of(info: CapabilityInfo) -> Function:
    from aiflows_runtime.prompts import load

    model = info.manifest.model
    route = None
    if model is not None:
        prompt = load(info.folder, info.name, model.prompt)
        route = ModelRoute(
            model.primary, len(prompt.system + prompt.template), model.max_tokens, model.cacheable
        )
    return Function(info.name, info.manifest.memory_mb, info.manifest.reaches.bus, route)


def _model_cost(model: str, input_tokens: int, output_tokens: int) -> float:
    from aiflows_runtime.policies import routing_policy

    return routing_policy().models[model].cost(input_tokens, output_tokens)


def prices_of(flow: FlowInfo, measured: Measured) -> Prices:
    bindings = flow.capability_bindings()
    workers = [info for info in bindings.values() if info.manifest.reaches.work_queue]
    pricing = flow.manifest.pricing
    return Prices(
        functions={name: function_of(info) for name, info in bindings.items()},
        queue_worker=function_of(workers[0]) if workers else None,
        measured=measured,
        document_chars=pricing.document_chars,
        map_items=pricing.map_items,
        cost=_model_cost,
    )


def _priced(priced: Iterable[FlowInfo] | None) -> Iterable[FlowInfo]:
    from aiflows.flows import flows

    return flows().values() if priced is None else priced


def table(
    priced: Iterable[FlowInfo] | None = None,
    measured: Measured | None = None,
    answers: tuple[Answers, ...] = ANSWERS,
) -> list[Row]:
    """A row per priced path of each flow (every flow by default) and answer path, as it deploys."""
    rows = []
    for flow in _priced(priced):
        definition, pricing = flow.woven(), flow.manifest.pricing
        prices = prices_of(flow, measured or {})
        for path, choices in pricing.paths.items():
            for answer in answers:
                rows.append(
                    price(
                        flow.name,
                        path,
                        definition,
                        choices,
                        answer,
                        prices,
                        deployed=flow.manifest.type,
                        trigger_events=1 if flow.manifest.started_by == "events" else 0,
                        express_seconds=pricing.express_seconds,
                    )
                )
    return rows


def measure() -> dict[tuple[str, Answers], Requests]:
    """The requests of each model-calling capability per invocation, measured by ``bench.requests``.

    Runs each handler against a local cloud (some seconds): the figures are this code's.
    """
    from bench.requests import measure as run

    found: dict[tuple[str, Answers], Requests] = {}
    for row in run():
        answers = next((a for a in ANSWERS if a == row.path), None)
        if answers is None:
            continue  # ``repeat``: a redelivery, on no priced path
        dynamodb = row.dynamodb
        reads = sum(1 for operation in dynamodb if operation in DYNAMODB_READS)
        calls = sum(
            1 for s in row.every if s.service == "bedrock-runtime" and s.operation.startswith("Converse")
        )
        found[row.capability, answers] = Requests(reads, len(dynamodb) - reads, calls)
    return found


def render(priced: Iterable[FlowInfo] | None = None) -> str:
    """The orchestration alone, per path, uncached: what each flow's README quotes (computed offline)."""
    lines = [
        "| flow | path | state transitions | Standard, per 1,000 runs | Express, per 1,000 runs |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in table(priced, answers=("uncached",)):
        express = f"${row.express:.4f}" if row.express is not None else f"n/a: {row.misfit}"
        path = f"{row.path}, {row.express_seconds:g} s" if row.express is not None else row.path
        lines.append(f"| {row.flow} | {path} | {row.transitions} | ${row.standard:.4f} | {express} |")
    return "\n".join(lines)


def _usd(value: float) -> str:
    return f"${value:.4f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def _not_cacheable() -> list[str]:
    from aiflows.registry import capabilities

    return sorted(
        i.name for i in capabilities().values() if i.manifest.model and not i.manifest.model.cacheable
    )


def report(priced: Iterable[FlowInfo] | None = None, measured: Measured | None = None) -> str:
    """Every line of the bill per path, uncached and cached: what ``python -m infra.pricing`` prints."""
    rows = table(priced, measure() if measured is None else measured)
    lines = [
        "Per run: the counts. Per 1,000 runs: the dollars (us-east-1 list prices).",
        "",
        "| flow | path | answers | transitions | Standard | Express | Lambda GB-s | Lambda "
        "| DynamoDB reads + writes | DynamoDB | events | events | tokens in + out | tokens | total |",
        "| --- " * 3 + "| ---: " * 12 + "|",
    ]
    unmeasured: set[str] = set()
    for row in rows:
        used = row.used
        unmeasured |= used.unmeasured
        express = _usd(row.express) + f" ({row.express_seconds:.1f} s)" if row.express is not None else "n/a"
        standard, deployed = _usd(row.standard), row.deployed == "EXPRESS" and row.express is not None
        lines.append(
            f"| {row.flow} | {row.path} | {row.answers} | {used.transitions} "
            f"| {standard if deployed else f'**{standard}**'} | {f'**{express}**' if deployed else express} "
            f"| {used.gb_seconds:.3f} | {_usd(row.lambda_usd)} "
            f"| {used.reads} + {used.writes} | {_usd(row.dynamodb_usd)} "
            f"| {used.events} | {_usd(row.events_usd)} "
            f"| {_count(used.input_tokens)} + {_count(used.output_tokens)} | {_usd(row.tokens_usd)} "
            f"| {_usd(row.total)} |"
        )
    misfits = sorted({f"{row.flow} {row.misfit}" for row in rows if row.misfit})
    lines += [
        "",
        "- Standard, Express: the orchestration, a Distributed Map's Express children included; "
        "**bold**: the flow's own type, which the total counts. Express fits a flow whose every Task "
        "answers at once (Express runs support no `.waitForTaskToken` or `.sync`) and whose run lasts "
        f"{EXPRESS_MAX_SECONDS // 60} minutes at most: n/a where {'; '.join(misfits) or 'none does not'}. "
        "An Express run is billed at 64 MB in 100 ms steps for the Lambda time of its path.",
        "- cached: another run asked the same, so each cacheable route answers from its cache; "
        f"a route that is not cacheable ({', '.join(_not_cacheable())}) calls its model again.",
        f"- Lambda: each function's `memory_mb` for {STEP_MS} ms an invocation, plus "
        f"{MODEL_FIRST_TOKEN_MS} ms and {MODEL_TOKENS_PER_SECOND} tokens a second to `max_tokens` a model "
        f"call (assumed), in 1 ms steps, arm64 at ${LAMBDA_PER_GB_SECOND:.10f} per GB-second "
        f"and ${LAMBDA_PER_REQUEST * 1e6:.2f} per million requests.",
        "- DynamoDB: the definition's own Tasks and what `bench.requests` measures of each model-calling "
        "step, one request unit a request (a transaction's items bill 2 each, a batch read 1 each: "
        f"a floor), on demand at ${DYNAMODB_PER_WRITE_UNIT * 1e6:.3f} per million writes and "
        f"${DYNAMODB_PER_READ_UNIT * 1e6:.3f} per million reads; not measured, so not counted: "
        f"{', '.join(sorted(unmeasured)) or 'none'}.",
        f"- events: the trigger that starts the run, each `events:putEvents` entry, one per invocation of a "
        f"function that reaches the bus; ${EVENTS_PER_ENTRY * 1e6:.2f} per million.",
        "- tokens: per model call, the prompt with a document of `[pricing] document_chars` (4 characters a "
        "token, as the gateway estimates), `max_tokens` out (the worst case the budget holds), at the "
        "primary model's price in routing.toml.",
    ]
    return "\n".join(lines)


DOCS_PART = "costs"  # docs/flows.md's generated part that quotes the report (aiflows.authoring)


def write_docs(printed: str, doc: Path) -> None:
    """Quote ``printed`` in ``doc``, as its generated part :data:`DOCS_PART`."""
    from aiflows.authoring import with_generated_parts

    doc.write_text(
        with_generated_parts(doc.read_text(encoding="utf-8"), {DOCS_PART: printed}), encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    from aiflows.flows import flows
    from aiflows.registry import ROOT

    parser = argparse.ArgumentParser(
        prog="python -m infra.pricing", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("flow", nargs="*", help="only these flows (default: every flow)")
    parser.add_argument("--write-docs", action="store_true", help="also quote it in docs/flows.md")
    args = parser.parse_args(argv)
    printed = report([flows()[name] for name in args.flow] or None)
    print(printed)
    if args.write_docs:
        if args.flow:
            parser.error("--write-docs quotes every flow: name none")
        write_docs(printed, ROOT / "docs" / "flows.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
