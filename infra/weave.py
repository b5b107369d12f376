"""The house style, woven into a flow's definition at synth: the author writes the intent.

A Task that invokes a capability gets what its author did not write:

- ``Payload``: the run's ``correlation_id`` (from the manifest's path), the ``flow``'s
  name and its ``budget_usd``, when the capability's input contract takes them;
- ``TimeoutSeconds``: the capability's ``[task] timeout_seconds``;
- ``Retry``: Lambda's service errors and throttling, and the capability's
  ``[task] retry_on``, with exponential backoff, ``JitterStrategy: FULL`` and
  ``MaxDelaySeconds``.

A Task that puts events on the bus gets a ``TimeoutSeconds`` and a Retry on
EventBridge's errors, the same way.

Every top-level Task, Parallel or Map without a ``Catch`` gets one to ``<State>Failed``,
and a Catch of the author's may name ``<State>Failed`` too: each such state is written
here. It names the step and keeps the error, and the failure path after it publishes
``flow.failed`` (flow, step, error, cause, correlation id, tenant) and ends in a named
Fail state: ``InvalidInput``, ``BudgetExceeded``, ``Blocked``, ``TimedOut``,
``StepFailed`` (a ``States.*`` error) or ``FlowFailed`` (the step's own error), each
renamable in the manifest's ``[failures]``.

With a ``[review]`` in the manifest, its review Task asks again when nobody decides:
``Remind<State>`` after ``remind_after_seconds``, ``Escalate<State>`` after
``escalate_after_seconds``, then ``<State>TimedOut`` on the failure path.

What the author writes always wins: a Retry, Catch, TimeoutSeconds, Payload field or
state of the same name is kept as written.

A Task inside a Map or a Parallel is woven as a top-level one, without the Catch (its Map
or Parallel is caught). A Distributed Map's ItemProcessor runs as child executions, which
see neither the run's input nor the parent's states: there the woven ``correlation_id`` is
read from the child's own input, ``$$.Execution.Input.correlation_id``
(``...Input.BatchInput.correlation_id`` with an ItemBatcher), which the author passes in
the Map's ``ItemSelector`` (or ``ItemBatcher.BatchInput``); a failing child just fails,
and counts against the Map's ``ToleratedFailurePercentage``.

A flow may be written in JSONata, the whole machine or state by state. A JSONata Task's
``Arguments.Payload`` gets the same fields: the correlation id as an expression, its
manifest's JSONPath translated (``$$.`` is ``$states.context.``, ``$.`` is
``$states.input.``), and, when the author's Payload is one ``{% %}`` expression, merged
with it (``$merge``, the author's last). Its Catch to ``<State>Failed`` keeps the error
the JSONata way (``Output``, merging ``$states.errorOutput`` into the input as
``failure``), so the failure path, written in JSONPath, reads what it reads of a JSONPath
state. AWS refuses a JSONPath state in a machine whose top level is JSONata: the
machine's ``QueryLanguage`` moves onto each of its states, which keeps what each state
is, and the states woven in say ``QueryLanguage: JSONPath``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiflows.registry import CapabilityInfo
from aiflows_runtime.contracts import FLOW_FAILED, FLOWS_SOURCE
from aiflows_runtime.manifest import LAMBDA_SERVICE_ERRORS
from aiflows_runtime.state import keys
from infra.contract_check import (
    JSONATA,
    JSONPATH,
    KEEP_FAILURE,
    LAMBDA_INVOKE,
    arguments_of,
    expression_body,
    is_distributed_map,
    is_expression,
    language_of,
    language_problems,
    machine_language,
    passed_fields,
    walk_states,
)

if TYPE_CHECKING:
    from aiflows.flows import FlowInfo

EVENT_BUS = "EventBus"  # the ${Name} of the flows' bus
STATE_TABLE = "StateTable"  # the ${Name} of the state table
PARKED_RUNS = "ParkedRuns"  # the ${Name} of the queue where parked runs wait
PUBLISH_FAILURE = "PublishFailure"
FAILURE_CONTEXT = "FailureContext"
FAILURE_KIND = "FailureKind"
# error -> the Fail state it ends in; the manifest's [failures] renames them
FAILURE_STATES: dict[str, str] = {
    "InvalidInput": "InvalidInput",
    "BudgetExceeded": "BudgetExceeded",
    "GuardBlocked": "Blocked",
    "States.Timeout": "TimedOut",
    "States.HeartbeatTimeout": "TimedOut",
    "States.*": "StepFailed",
}
FLOW_FAILED_STATE = "FlowFailed"
_FAIL_COMMENTS = {
    "InvalidInput": "The input breaks its contract; the cause lists each field.",
    "BudgetExceeded": "The run would spend more than the flow's budget.",
    "GuardBlocked": "A guardrail's policy blocked the run; the cause names the findings and policy versions.",
    "States.Timeout": "A step, or a reviewer, did not answer in time.",
    "States.*": "A step failed in Step Functions itself (States.*): the cause says how.",
}


# Where a Distributed Map's child execution reads the run's correlation id: its own input (the
# item the Map's ItemSelector shaped; with an ItemBatcher, the batch, whose BatchInput the author writes)
CHILD_CORRELATION = "$$.Execution.Input.correlation_id"
BATCH_CORRELATION = "$$.Execution.Input.BatchInput.correlation_id"


def service_retry(
    errors: list[str], *, interval: int = 1, attempts: int = 5, max_delay: int = 10
) -> dict[str, Any]:
    """A Retry on a service's passing errors and a timeout: exponential backoff, full jitter, capped."""
    return {
        "ErrorEquals": [*errors, "States.Timeout"],
        "IntervalSeconds": interval,
        "MaxAttempts": attempts,
        "BackoffRate": 2,
        "MaxDelaySeconds": max_delay,
        "JitterStrategy": "FULL",
    }


PUT_EVENTS = "arn:aws:states:::events:putEvents"
# what an events:putEvents Task gets when it does not say otherwise: the bus throttles and fails
# (FailedEntry: PutEvents answered with a failed entry, FailedEntryCount > 0, throttling among them)
PUT_EVENTS_RETRY = service_retry(
    ["EventBridge.EventBridgeException", "EventBridge.FailedEntry"], interval=2, attempts=3, max_delay=20
)
PUT_EVENTS_TIMEOUT_SECONDS = 10

# An event-triggered flow's first states: an event EventBridge delivers twice starts one run.
START_ONCE, CLAIM_EVENT, ALREADY_STARTED = "StartOnce", "ClaimEvent", "AlreadyStarted"
# How long a claim is kept: EventBridge retries a delivery for the rule target's maximum event age
# (an hour, infra.constructs.event_bus), so a day outlives every delivery of one event. An event
# sent again from the bus's dead-letter queue is a new event, with an id of its own.
CLAIM_SECONDS = 24 * 3600
PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
# DynamoDB's throttling and its own failures, as the dynamodb integration names them
DYNAMODB_RETRY = service_retry(
    [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceeded",
        "DynamoDB.InternalServerErrorException",
    ]
)
DYNAMODB_TIMEOUT_SECONDS = 10

SEND_AND_WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
# errors a Retry may name that are no sign of a passing fault: they never park a run
_NOT_TRANSIENT = frozenset({"States.ALL", "States.TaskFailed", "States.Runtime"})
# SQS refusing a message for a moment
SQS_RETRY = service_retry(["SQS.SdkClientException", "SQS.AmazonSQSException"])


def capability_of(
    state: Mapping[str, Any], capabilities: Mapping[str, CapabilityInfo], language: str = JSONPATH
) -> CapabilityInfo | None:
    """The capability a Task invokes, if it is a ``lambda:invoke`` of a capability's ``${Name}``.

    ``language`` is the state's query language: the function is named in its ``Parameters``
    (JSONPath) or its ``Arguments`` (JSONata).
    """
    if state.get("Type") != "Task" or state.get("Resource") not in LAMBDA_INVOKE:
        return None
    name = str(arguments_of(state, language).get("FunctionName", ""))
    if name.startswith("${") and name.endswith("}"):
        return capabilities.get(name[2:-1])
    return None


def catch_to(errors: list[str], target: str, language: str) -> dict[str, Any]:
    """A Catch that keeps the error in ``failure`` of the state's input, and goes to ``target``."""
    if language == JSONATA:  # no ResultPath in JSONata: the error is $states.errorOutput
        return {"ErrorEquals": errors, "Output": KEEP_FAILURE, "Next": target}
    return {"ErrorEquals": errors, "ResultPath": "$.failure", "Next": target}


# a manifest's JSONPath that JSONata can read: $ or $$, then .name or [index] steps
_SIMPLE_PATH = re.compile(r"^(\$\$?)((?:\.[^.\[\]`]+|\[\d+\])*)$")
_STEP = re.compile(r"\.([^.\[\]`]+)|\[(\d+)\]")
_NAME = re.compile(r"^[A-Za-z_]\w*$")


def jsonata_path(path: str) -> str:
    """The JSONata of a manifest's JSONPath, for a JSONata state.

    ``$$.`` (the context object) is ``$states.context.``, ``$.`` (the state's input)
    ``$states.input.``: ``$$.Execution.Input.id`` is ``$states.context.Execution.Input.id``,
    ``$.detail.id`` is ``$states.input.detail.id``. A name JSONata would not read as one
    (``detail-type``) is quoted in backticks. Anything but dotted names and indexes is refused.
    """
    match = _SIMPLE_PATH.match(path)
    if match is None:
        raise ValueError(
            f"{path!r} cannot be read in a JSONata state: write it as $ or $$ and dotted names "
            "(e.g. $$.Execution.Input.id, $.detail.id)"
        )
    found = "$states.context" if match[1] == "$$" else "$states.input"
    for name, index in _STEP.findall(match[2]):
        found += f"[{index}]" if index else "." + (name if _NAME.match(name) else f"`{name}`")
    return found


@dataclass(frozen=True)
class _Scope:
    """Where the states being woven run: the run itself, or a Distributed Map's child execution."""

    correlation: str  # the JSONPath of the run's correlation id, as these states see it
    child_of: str = ""  # the Distributed Map whose child execution runs them ("" at the run's own level)
    passed: bool = True  # whether that Map passes correlation_id to its children
    parent: str = ""  # the correlation id's JSONPath as that Map itself reads it


def weave(flow: FlowInfo, capabilities: Mapping[str, CapabilityInfo]) -> dict[str, Any]:
    """The flow's definition as it deploys: the written one, with the house style woven in."""
    definition = copy.deepcopy(flow.written)
    wrong = language_problems(definition)
    if wrong:
        raise ValueError(
            f"{flow.definition_path} breaks the rules of its query languages:\n"
            + "\n".join(f"  - {problem}" for problem in wrong)
        )
    jsonata_machine = machine_language(definition) == JSONATA
    if jsonata_machine:  # AWS refuses a JSONPath state (the failure path's) in a JSONata machine
        del definition["QueryLanguage"]
        for _path, state in walk_states(definition):
            state.setdefault("QueryLanguage", JSONATA)
    states: dict[str, Any] = definition["States"]
    if flow.manifest.started_by == "events":
        _weave_start_once(definition, flow)
    if flow.manifest.review:  # first: the review's timeouts are its settings, not its capability's
        _weave_review(definition, flow)
    _weave_tasks(definition, definition, flow, capabilities, _Scope(flow.manifest.correlation_id))
    if flow.manifest.type == "STANDARD" and flow.manifest.park_for_seconds:
        _weave_parking(definition, flow)
    for name, state in list(states.items()):
        if state.get("Type") not in ("Task", "Parallel", "Map"):
            continue
        catches = state.setdefault("Catch", [])
        if not any("States.ALL" in catch.get("ErrorEquals", []) for catch in catches):
            # after the author's own: whatever else fails goes down the failure path, never unannounced
            catches.append(catch_to(["States.ALL"], f"{name}Failed", language_of(state, definition)))
    _weave_failure_path(states, flow)
    if jsonata_machine:  # every state without one now is the weave's, and JSONPath
        for state in states.values():
            state.setdefault("QueryLanguage", JSONPATH)
    return definition


def _weave_start_once(definition: dict[str, Any], flow: FlowInfo) -> None:
    """Put the event's claim in front of the flow: a second delivery of an event ends AlreadyStarted.

    EventBridge delivers an event at least once, so a rule can start a flow twice for
    one event. The claim is a conditional ``putItem`` of ``start#<event id>`` in the state
    table (``attribute_not_exists``, or held by this very execution, whose retry or redrive
    keeps it): the first run writes it and goes on, a duplicate fails the condition and
    ends in the Succeed state ``AlreadyStarted``. A claim is kept for a day, well past the
    hour EventBridge goes on delivering one event. A replay from an
    archive is a delivery by intent: its ``replay-name`` is part of the claim. An input
    that is no event (no ``id`` or no ``source``: a client that starts the flow itself)
    claims nothing. The claim is written in JSONata, whatever the flow's language: only
    JSONata can compute the epoch second of its expiry, from the execution's start time.
    """
    states: dict[str, Any] = definition["States"]
    taken = sorted({START_ONCE, CLAIM_EVENT, ALREADY_STARTED} & set(states))
    if taken:
        raise ValueError(
            f"{flow.definition_path}: states {', '.join(taken)} are the names of the states woven in front "
            "of an event-triggered flow (docs/flows.md#one-run-per-event): rename yours"
        )
    first = definition["StartAt"]
    written = dict(states)
    states.clear()  # in place, and first: the woven start reads first in the definition and its drawing
    event = "$states.input"
    replay = f"($exists({event}.`replay-name`) ? '#' & {event}.`replay-name` : '')"
    expiry = f"$string($floor($toMillis($states.context.Execution.StartTime) / 1000) + {CLAIM_SECONDS})"
    states[START_ONCE] = {
        "Type": "Choice",
        "Comment": "An EventBridge event starts one run, however often it is delivered.",
        "Choices": [
            {
                "Or": [
                    {"Variable": "$.id", "IsPresent": False},
                    {"Variable": "$.source", "IsPresent": False},
                ],
                "Next": first,
            }
        ],
        "Default": CLAIM_EVENT,
    }
    states[CLAIM_EVENT] = {
        "Type": "Task",
        "Comment": "The first run of this event claims it; a second delivery finds the claim.",
        "QueryLanguage": JSONATA,
        "Resource": PUT_ITEM,
        "Arguments": {
            "TableName": "${" + STATE_TABLE + "}",
            "Item": {
                "pk": {"S": "{% '" + keys.EVENT_START + "' & " + event + ".id & " + replay + " %}"},
                "sk": {"S": keys.EVENT_START_SORT},
                "execution": {"S": "{% $states.context.Execution.Id %}"},
                keys.TTL_ATTRIBUTE: {"N": "{% " + expiry + " %}"},
            },
            # a retry of this execution's own claim (its write landed, its answer did not) keeps it
            "ConditionExpression": "attribute_not_exists(pk) OR execution = :mine",
            "ExpressionAttributeValues": {":mine": {"S": "{% $states.context.Execution.Id %}"}},
        },
        "Output": "{% " + event + " %}",
        "TimeoutSeconds": DYNAMODB_TIMEOUT_SECONDS,
        "Retry": [dict(DYNAMODB_RETRY)],
        "Catch": [
            {
                "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                "Output": "{% {'event': " + event + ".id, 'already_started': true} %}",
                "Next": ALREADY_STARTED,
            }
        ],
        "Next": first,
    }
    states[ALREADY_STARTED] = {
        "Type": "Succeed",
        "Comment": "EventBridge delivered this event again: the run it started is the one to follow.",
    }
    states.update(written)
    definition["StartAt"] = START_ONCE


def retried(state: Mapping[str, Any]) -> list[str]:
    """The errors a state's Retry names, or its branches' and iterations' do: what may pass."""
    errors = [e for retrier in state.get("Retry", []) for e in retrier.get("ErrorEquals", [])]
    # a Distributed Map's children fail on their own: the Map fails by its tolerance, not their errors
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    for scope in [] if is_distributed_map(state) else [*state.get("Branches", []), processor]:
        for nested in scope.get("States", {}).values():
            errors += retried(nested)
    return [e for e in dict.fromkeys(errors) if e not in _NOT_TRANSIENT]


def _weave_parking(definition: dict[str, Any], flow: FlowInfo) -> None:
    """A step that still fails on what its Retry names parks the run, instead of failing it.

    Its Retry says which errors pass (throttling, a model's outage, a timeout); when the
    retries run out on one of them, the run waits in ``Park<State>``: a message on the
    parked-runs queue with the task token, for ``python -m aiflows runs resume`` (which
    runs the step again) or ``runs abandon`` (which sends it down the failure path with
    the error that parked it), or ``park_for_seconds`` (the manifest's), after which it
    goes down the failure path too. The Step Functions redrive cannot do this: a Catch
    has exited the failed step, and a redrive reruns only the states that did not exit.
    A state whose author wrote a ``States.ALL`` Catch, a review (its timeouts are its
    reminders) and what an Express flow runs (no task tokens there) are not parked.
    """
    states: dict[str, Any] = definition["States"]
    review = flow.manifest.review.state if flow.manifest.review else None
    for name, state in list(states.items()):
        if state.get("Type") not in ("Task", "Parallel", "Map") or name == review:
            continue
        catches = state.get("Catch", [])
        if any("States.ALL" in c.get("ErrorEquals", []) for c in catches) or ".waitForTaskToken" in str(
            state.get("Resource", "")
        ):
            continue
        caught = {e for c in catches for e in c.get("ErrorEquals", [])}
        passing = [e for e in retried(state) if e not in caught]
        if not passing:
            continue
        park = f"Park{name}"
        if park in states:
            raise ValueError(
                f"{flow.definition_path}: state {park} is the name of the state woven to park {name} "
                "(docs/flows.md#parked-runs): rename yours"
            )
        state["Catch"] = [*catches, catch_to(passing, park, language_of(state, definition))]
        states[park] = {
            "Type": "Task",
            "Comment": f"{name} still failed on what its Retry expects to pass: the run waits here to be "
            "resumed (python -m aiflows runs resume), which runs the step again, or abandoned.",
            "Resource": SEND_AND_WAIT,
            "Parameters": {
                "QueueUrl": "${" + PARKED_RUNS + "}",
                "MessageBody": {
                    "task_token.$": "$$.Task.Token",
                    "execution.$": "$$.Execution.Id",
                    "flow": flow.name,
                    "step": name,
                    "error.$": "$.failure.Error",
                    # the whole error: a Cause is not always there, and a path to nothing fails the state
                    "failure.$": "$.failure",
                    "parked_at.$": "$$.State.EnteredTime",
                },
            },
            "TimeoutSeconds": flow.manifest.park_for_seconds,
            "ResultPath": None,
            "Retry": [dict(SQS_RETRY)],
            # abandoned, or nobody came: the failure path, with the error that parked the run ($.failure)
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.parked", "Next": f"{name}Failed"}],
            "Next": name,
        }


def _weave_tasks(
    scope: dict[str, Any],
    definition: dict[str, Any],
    flow: FlowInfo,
    capabilities: Mapping[str, CapabilityInfo],
    runs_in: _Scope,
    prefix: str = "",
) -> None:
    for name, state in scope.get("States", {}).items():
        path = f"{prefix}{name}"
        language = language_of(state, definition)
        for branch in state.get("Branches", []):
            _weave_tasks(branch, definition, flow, capabilities, runs_in, f"{path}/")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            inner = _child_scope(path, state, language, runs_in) if is_distributed_map(state) else runs_in
            _weave_tasks(processor, definition, flow, capabilities, inner, f"{path}/")
        if state.get("Type") == "Task" and state.get("Resource") == PUT_EVENTS:
            state.setdefault("TimeoutSeconds", PUT_EVENTS_TIMEOUT_SECONDS)
            state.setdefault("Retry", [dict(PUT_EVENTS_RETRY)])
        info = capability_of(state, capabilities, language)
        if info is None:
            continue
        _weave_payload(state, flow, info, language, runs_in, path)
        task = info.manifest.task
        if "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
            state["TimeoutSeconds"] = task.timeout_seconds
        if "Retry" not in state and task.max_attempts:
            state["Retry"] = [
                {
                    "ErrorEquals": [*LAMBDA_SERVICE_ERRORS, *task.retry_on],
                    "IntervalSeconds": task.interval_seconds,
                    "MaxAttempts": task.max_attempts,
                    "BackoffRate": task.backoff_rate,
                    "MaxDelaySeconds": task.max_delay_seconds,
                    "JitterStrategy": "FULL",
                }
            ]


def _child_scope(path: str, state: Mapping[str, Any], language: str, outer: _Scope) -> _Scope:
    """The scope of a Distributed Map's children: the correlation id is in their own input."""
    batched = "ItemBatcher" in state
    holder = (state.get("ItemBatcher") or {}).get("BatchInput") if batched else state.get("ItemSelector")
    passed = (language == JSONATA and is_expression(holder)) or (  # one expression: it may, trust it
        isinstance(holder, dict) and "correlation_id" in passed_fields(holder, language)
    )
    correlation = BATCH_CORRELATION if batched else CHILD_CORRELATION
    return _Scope(correlation, child_of=path, passed=passed, parent=outer.correlation)


def _unpassed(flow: FlowInfo, path: str, runs_in: _Scope, language: str) -> str:
    """Why a child's capability Task cannot get its correlation_id woven, and what to write instead."""
    parent = runs_in.child_of
    field = "ItemBatcher.BatchInput" if runs_in.correlation == BATCH_CORRELATION else "ItemSelector"
    example = f'"correlation_id.$": "{runs_in.parent}"'
    if language == JSONATA:
        try:
            example = '"correlation_id": "{% ' + jsonata_path(runs_in.parent) + ' %}"'
        except ValueError:
            example = '"correlation_id": "{% ... %}"'
    return (
        f"{flow.definition_path}: state {path} runs in a child execution of the Distributed Map {parent}, "
        "which does not see the run's input: its woven correlation_id is read from the child's own input "
        f"({runs_in.correlation}), so pass it in {parent}'s {field}, e.g. {example}; "
        f"or pass correlation_id in {path}'s Payload yourself"
    )


def _weave_payload(
    state: dict[str, Any],
    flow: FlowInfo,
    info: CapabilityInfo,
    language: str,
    runs_in: _Scope,
    path: str,
) -> None:
    arguments = arguments_of(state, language)
    payload = arguments.get("Payload")
    takes = info.input_model.model_fields
    correlation = runs_in.correlation
    writes_own = (  # or passes a whole state, which the contract check refuses
        is_expression(payload)
        or "Payload.$" in arguments
        or (isinstance(payload, dict) and "correlation_id" in passed_fields(payload, language))
    )
    if not runs_in.passed and "correlation_id" in takes and not writes_own:
        raise ValueError(_unpassed(flow, path, runs_in, language))
    if language == JSONATA and "correlation_id" in takes:
        try:
            correlation = jsonata_path(correlation)
        except ValueError as exc:
            raise ValueError(f"{flow.folder / 'flow.toml'}: correlation_id = {exc}") from None
    # each field: its key and value in an object of the state's language, and as a JSONata term
    woven: dict[str, tuple[str, Any, str]] = {}
    if "correlation_id" in takes:
        key = "correlation_id" if language == JSONATA else "correlation_id.$"
        value = "{% " + correlation + " %}" if language == JSONATA else correlation
        woven["correlation_id"] = (key, value, correlation)
    if "flow" in takes:
        woven["flow"] = ("flow", flow.name, json.dumps(flow.name))
    if "budget_usd" in takes and flow.manifest.budget_usd is not None:
        budget = flow.manifest.budget_usd
        woven["budget_usd"] = ("budget_usd", budget, json.dumps(budget))
    if isinstance(payload, dict):
        written = passed_fields(payload, language)
        arguments["Payload"] = {
            **{key: value for name, (key, value, _) in woven.items() if name not in written},
            **payload,
        }
    elif language == JSONATA and is_expression(payload) and woven:
        # one expression for the whole Payload: merged, the author's last (it wins)
        terms = ", ".join(f"{json.dumps(name)}: {term}" for name, (_, _, term) in woven.items())
        arguments["Payload"] = "{% $merge([{" + terms + "}, (" + expression_body(payload) + ")]) %}"
    # else Payload.$ passes a whole state: the contract check refuses it


def _weave_review(definition: dict[str, Any], flow: FlowInfo) -> None:
    states: dict[str, Any] = definition["States"]
    review = flow.manifest.review
    assert review is not None
    name = review.state
    asks = states.get(name)
    if asks is None or asks.get("Type") != "Task":
        raise ValueError(
            f"{flow.folder / 'flow.toml'}: [review] state = {name!r}, but {flow.definition_path} has no "
            f"Task {name}; name the Task that invokes request_review"
        )
    original = copy.deepcopy(asks)
    language = language_of(asks, definition)
    chain = [
        (name, review.remind_after_seconds, False, False),
        (f"Remind{name}", review.escalate_after_seconds, True, False),
        (f"Escalate{name}", review.give_up_after_seconds, False, True),
    ]
    timed_out = f"{name}TimedOut"
    for index, (step, timeout, reminder, escalation) in enumerate(chain):
        following = chain[index + 1][0] if index + 1 < len(chain) else timed_out
        if step != name and step in states:
            return  # the author wrote this step, and what follows it
        state = asks if step == name else copy.deepcopy(original)
        payload = arguments_of(state, language).get("Payload")
        if review.role is not None and isinstance(payload, dict):
            payload.pop("role.$", None)  # the manifest's: who may decide is not the definition's to say
            payload["role"] = review.role
        if step == name:
            if "TimeoutSecondsPath" not in state:
                state.setdefault("TimeoutSeconds", timeout)
            if isinstance(payload, dict):
                for key, value in (("step", step), ("reminder", reminder), ("escalation", escalation)):
                    payload.setdefault(key, value)
        else:
            what = "an escalation" if escalation else "a reminder"
            state["Comment"] = f"Nobody decided in time: ask again, as {what}."
            state.pop("TimeoutSecondsPath", None)
            state["TimeoutSeconds"] = timeout
            if isinstance(payload, dict):
                payload.update({"step": step, "reminder": reminder, "escalation": escalation})
        catches = state.setdefault("Catch", [])
        own_timeout = any("States.Timeout" in c.get("ErrorEquals", []) for c in catches)
        if not own_timeout:
            catches.insert(0, catch_to(["States.Timeout"], following, language))
        if not any("States.ALL" in c.get("ErrorEquals", []) for c in catches):
            catches.append(catch_to(["States.ALL"], f"{name}Failed", language))
        states[step] = state
        if own_timeout:
            return  # the author decided what a timeout leads to: nothing after it is woven
    last = chain[-1][0]
    states.setdefault(
        timed_out, {**_failed_state(last), "Comment": f"Nobody decided {name}, even after {last}."}
    )


def _failed_state(step: str) -> dict[str, Any]:
    return {
        "Type": "Pass",
        "Comment": f"{step} failed: name the step, keep the error.",
        "Parameters": {"step": step, "error.$": "$.failure.Error", "cause.$": "$.failure.Cause"},
        "ResultPath": "$.failed",
        "Next": FAILURE_CONTEXT,
    }


def _weave_failure_path(states: dict[str, Any], flow: FlowInfo) -> None:
    targets = {
        catch["Next"]
        for state in list(states.values())
        for catch in state.get("Catch", [])
        if catch.get("Next") not in states
    }
    failed = sorted(t for t in targets if t.endswith("Failed") or t.endswith("TimedOut"))
    unknown = sorted(targets - set(failed))
    if unknown:
        raise ValueError(
            f"{flow.definition_path}: a Catch names states the definition does not have: {unknown}"
        )
    for target in failed:
        step = target.removesuffix("Failed").removesuffix("TimedOut")
        states[target] = _failed_state(step)
    pointed = {s.get("Next") for s in states.values()} | {
        c.get("Next") for s in states.values() for c in s.get("Catch", [])
    }
    if not pointed & {FAILURE_CONTEXT, PUBLISH_FAILURE}:
        return
    manifest = flow.manifest
    kept = {"step.$": "$.failed.step", "error.$": "$.failed.error", "cause.$": "$.failed.cause"}
    correlation, tenant = manifest.correlation_id, manifest.tenant
    # A path that is not there fails a Pass with States.Runtime, which no Catch catches: the
    # context is read only where it is present, else the execution's own name stands in.
    context = {
        "FailureOfRun": {**kept, "correlation_id.$": correlation, "tenant.$": tenant},
        "FailureWithoutTenant": {**kept, "correlation_id.$": correlation, "tenant": None},
        "FailureWithoutContext": {**kept, "correlation_id.$": "$$.Execution.Name", "tenant": None},
    }
    present = [{"Variable": correlation, "IsPresent": True}, {"Variable": tenant, "IsPresent": True}]
    tail: dict[str, Any] = {
        FAILURE_CONTEXT: {
            "Type": "Choice",
            "Comment": "The failure event names the run and its tenant, where the run has them.",
            "Choices": [
                {"And": present, "Next": "FailureOfRun"},
                {**present[0], "Next": "FailureWithoutTenant"},
            ],
            "Default": "FailureWithoutContext",
        },
        **{
            name: {
                "Type": "Pass",
                "Parameters": parameters,
                "ResultPath": "$.failed",
                "Next": PUBLISH_FAILURE,
            }
            for name, parameters in context.items()
        },
        PUBLISH_FAILURE: {
            "Type": "Task",
            "Comment": f"Every failure is announced: {FLOW_FAILED} names the step and the error.",
            "Resource": PUT_EVENTS,
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": "${" + EVENT_BUS + "}",
                        "Source": FLOWS_SOURCE,
                        "DetailType": FLOW_FAILED,
                        "Detail": {
                            "correlation_id.$": "$.failed.correlation_id",
                            "flow": flow.name,
                            "step.$": "$.failed.step",
                            "error.$": "$.failed.error",
                            "cause.$": "$.failed.cause",
                            "tenant.$": "$.failed.tenant",
                        },
                    }
                ]
            },
            "ResultPath": None,
            "TimeoutSeconds": PUT_EVENTS_TIMEOUT_SECONDS,
            "Retry": [dict(PUT_EVENTS_RETRY)],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": FAILURE_KIND}],
            "Next": FAILURE_KIND,
        },
    }
    names = {**FAILURE_STATES, **manifest.failures}
    choices = []
    for error, state_name in names.items():
        rule = "StringMatches" if "*" in error else "StringEquals"
        choices.append({"Variable": "$.failed.error", rule: error, "Next": state_name})
    # exact names first: StringMatches "States.*" would take States.Timeout otherwise
    choices.sort(key=lambda c: "StringMatches" in c)
    tail[FAILURE_KIND] = {"Type": "Choice", "Choices": choices, "Default": FLOW_FAILED_STATE}
    for error, state_name in names.items():
        cause = (
            "$.failed.step" if error in ("States.Timeout", "States.HeartbeatTimeout") else "$.failed.cause"
        )
        comment = _FAIL_COMMENTS.get(error, _FAIL_COMMENTS["States.Timeout"] if "Timeout" in error else "")
        tail.setdefault(
            state_name, {"Type": "Fail", "Comment": comment, "Error": state_name, "CausePath": cause}
        )
    tail[FLOW_FAILED_STATE] = {
        "Type": "Fail",
        "Comment": "A step failed with its own error, named as the step raised it.",
        "ErrorPath": "$.failed.error",
        "CausePath": "$.failed.cause",
    }
    for state_name, state in tail.items():
        states.setdefault(state_name, state)
