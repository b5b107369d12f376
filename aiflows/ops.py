"""What the runbooks run: alarms, failed runs and their redrives, costly runs, dead letters, breakers.

Every function reads the deployed stack through boto3 (its outputs name the
resources), so the same commands answer on AWS and against the local cloud
(``AWS_ENDPOINT_URL``). The state table is read with the handlers' own adapters
(``aiflows_runtime.state``): the breaker and the ledger mean the same thing here as
in the functions.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_STACK = "AiFlows"
# flow -> the stack output holding its state machine's ARN
FLOW_OUTPUTS = {
    "document_intake": "DocumentIntakeStateMachineArn",
    "classify_extract": "ClassifyExtractStateMachineArn",
}
# dead-letter queue -> (its output, the output of where its messages came from)
DEAD_LETTER_QUEUES = {
    "work": ("WorkDeadLetterQueueUrl", "WorkQueueUrl"),
    "event-targets": ("EventTargetDeadLetterQueueUrl", "EventBusName"),
}
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")
# what `logs` shows of a line besides its message: ids, verdicts, outcomes, never content
LOGGED_DETAILS = ("model_id", "outcome", "cost_usd", "review_id", "decision", "risk", "stage", "why")

Clients = Callable[[str], Any]  # service name -> boto3 client


class OpsError(Exception):
    """Something the operator asked for that the stack cannot answer; the message says why."""


def outputs(clients: Clients, stack: str) -> dict[str, str]:
    try:
        described = clients("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:
        raise OpsError(f"stack {stack} not found ({exc}); give --stack") from exc
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _output(values: dict[str, str], key: str, stack: str) -> str:
    if key not in values:
        raise OpsError(f"stack {stack} has no output {key}: deploy the current version")
    return values[key]


# --- alarms ------------------------------------------------------------------
@dataclass(frozen=True)
class AlarmRow:
    name: str
    state: str
    reason: str
    runbook: str


def alarms(clients: Clients, stack: str) -> list[AlarmRow]:
    rows = []
    pages = clients("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{stack}-")
    for page in pages:
        for alarm in page["MetricAlarms"]:
            description = alarm.get("AlarmDescription", "")
            runbook = description.rsplit("Runbook: ", 1)[1] if "Runbook: " in description else ""
            rows.append(
                AlarmRow(alarm["AlarmName"], alarm["StateValue"], alarm.get("StateReason", ""), runbook)
            )
    return sorted(rows, key=lambda r: (r.state != "ALARM", r.name))


# --- runs ----------------------------------------------------------------------
@dataclass(frozen=True)
class FailedRun:
    execution_arn: str
    status: str
    started: datetime.datetime
    correlation_id: str
    step: str  # the step that failed (the state before its <Step>Failed), else the last state entered
    error: str
    cause: str
    redrivable: bool = False  # whether a redrive would take the run on from where it stopped
    redrive_note: str = ""  # where a redrive restarts it, or why it would not help


def _executions(
    clients: Clients, machine: str, statuses: tuple[str, ...], since: datetime.datetime
) -> Iterator[Any]:
    """Executions started since then; the API lists newest first, so paging stops at the first older one."""
    sfn = clients("stepfunctions")
    for status in statuses:
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine, statusFilter=status
        ):
            older = False
            for execution in page["executions"]:
                if execution["startDate"] >= since:
                    yield execution
                else:
                    older = True
            if older:
                break


def _machine(clients: Clients, stack: str, flow: str) -> str:
    """The flow's Standard state machine; an Express flow keeps its executions in its log group."""
    if flow not in FLOW_OUTPUTS:
        raise OpsError(f"no flow {flow!r}: one of {', '.join(FLOW_OUTPUTS)}")
    arn = _output(outputs(clients, stack), FLOW_OUTPUTS[flow], stack)
    described = clients("stepfunctions").describe_state_machine(stateMachineArn=arn)
    if described.get("type") == "EXPRESS":
        group = (described.get("loggingConfiguration", {}).get("destinations") or [{}])[0]
        where = group.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "its log group")
        raise OpsError(
            f"{flow} is an Express flow: Step Functions does not list its executions. Query {where} "
            "with CloudWatch Logs Insights, e.g. 'fields @timestamp, execution_arn, details.error "
            '| filter type = "ExecutionFailed"\''
        )
    return arn


def failed_runs(clients: Clients, stack: str, flow: str, since: datetime.datetime) -> list[FailedRun]:
    """The runs that failed, timed out or were aborted since then, newest first."""
    sfn = clients("stepfunctions")
    rows = []
    for execution in _executions(clients, _machine(clients, stack, flow), ENDED_BADLY, since):
        arn = execution["executionArn"]
        described = sfn.describe_execution(executionArn=arn)
        events = _history(sfn, arn)
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        correlation_id = _correlation_id(described)
        redrivable, note = _redrive_verdict(described, events)
        rows.append(
            FailedRun(
                execution_arn=arn,
                status=execution["status"],
                started=execution["startDate"],
                correlation_id=correlation_id,
                step=_failed_step(entered),
                error=described.get("error", ""),
                cause=_cause(described.get("cause", "")),
                redrivable=redrivable,
                redrive_note=note,
            )
        )
    return sorted(rows, key=lambda r: r.started, reverse=True)


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def _correlation_id(described: dict[str, Any]) -> str:
    """A run's correlation id: the id of the event that started it ('' when its input has none)."""
    try:
        return str(json.loads(described.get("input") or "{}").get("id", ""))
    except (ValueError, AttributeError):
        return ""


def _failed_step(entered: list[str]) -> str:
    for index, name in enumerate(entered):
        if name.endswith("Failed") and index:
            return entered[index - 1]
    return entered[-1] if entered else ""


def _cause(cause: str) -> str:
    """A Lambda error's type and message, without its stack trace."""
    try:
        error = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(error, dict) and "errorMessage" in error:
        return f"{error.get('errorType', 'Error')}: {error['errorMessage']}"
    return cause


# --- parked runs ---------------------------------------------------------------------
@dataclass(frozen=True)
class ParkedRun:
    """A run waiting in its step's ``Park<State>`` (docs/flows.md#parked-runs)."""

    execution_arn: str
    flow: str
    step: str
    error: str
    cause: str
    parked_at: str
    receipt: str = ""  # the message's receipt handle, while this listing holds it


def _parked_queue(clients: Clients, stack: str) -> str:
    return _output(outputs(clients, stack), "ParkedRunsQueueUrl", stack)


def _parked_messages(sqs: Any, url: str) -> Iterator[tuple[ParkedRun, str]]:
    """Every message of the queue once, each held (invisible) for a minute: let go of what is kept."""
    seen: set[str] = set()
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=1
        ).get("Messages", [])
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            body = json.loads(message["Body"])
            cause = (body.get("failure") or {}).get("Cause") or ""  # text, often JSON; read either way
            run = ParkedRun(
                body["execution"],
                body["flow"],
                body["step"],
                body.get("error") or "",
                _cause(cause if isinstance(cause, str) else json.dumps(cause)),
                body.get("parked_at", ""),
                message["ReceiptHandle"],
            )
            yield run, body["task_token"]


def _let_go(sqs: Any, url: str, runs: Iterable[ParkedRun]) -> None:
    """The messages looked at and kept become visible again at once."""
    for run in runs:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=run.receipt, VisibilityTimeout=0)


def parked_runs(clients: Clients, stack: str, flow: str | None = None) -> list[ParkedRun]:
    """The runs that wait to be resumed or abandoned (of one flow, or all), oldest first."""
    sqs, url = clients("sqs"), _parked_queue(clients, stack)
    found = [run for run, _ in _parked_messages(sqs, url)]
    _let_go(sqs, url, found)
    return sorted((r for r in found if flow in (None, r.flow)), key=lambda r: r.parked_at)


@dataclass(frozen=True)
class Unparked:
    run: ParkedRun
    outcome: str  # "resumed", "abandoned", or "no longer waiting" (it timed out or was stopped)


def unpark(
    clients: Clients, stack: str, *, resume: bool, executions: Iterable[str] = (), flow: str | None = None
) -> list[Unparked]:
    """Resume the parked runs named by execution ARN (every parked run of ``flow``, or of every
    flow, when none is named): the step that parked each runs again. Or give them up: each goes
    down its failure path, with the error that parked it."""
    from aiflows_runtime.errors import error_code

    named = set(executions)
    sqs, sfn = clients("sqs"), clients("stepfunctions")
    url = _parked_queue(clients, stack)
    done: list[Unparked] = []
    kept: list[ParkedRun] = []
    for run, token in _parked_messages(sqs, url):
        if (named and run.execution_arn not in named) or (not named and flow not in (None, run.flow)):
            kept.append(run)
            continue
        try:
            if resume:
                sfn.send_task_success(taskToken=token, output="{}")
            else:
                sfn.send_task_failure(
                    taskToken=token, error=run.error[:256], cause="abandoned: python -m aiflows runs abandon"
                )
            outcome = "resumed" if resume else "abandoned"
        except Exception as exc:
            if error_code(exc) not in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
                _let_go(sqs, url, kept)
                raise
            outcome = "no longer waiting"
        sqs.delete_message(QueueUrl=url, ReceiptHandle=run.receipt)
        done.append(Unparked(run, outcome))
    _let_go(sqs, url, kept)
    missing = named - {d.run.execution_arn for d in done}
    if missing:
        raise OpsError(
            f"not parked: {', '.join(sorted(missing))} (`python -m aiflows runs parked` lists those that are)"
        )
    return done


# --- redriving runs ------------------------------------------------------------------
@dataclass(frozen=True)
class Redriven:
    execution_arn: str
    outcome: str  # "redriven", "would be redriven" (a dry run) or "not redriven"
    detail: str  # where the run restarts, or why it was not redriven
    redrive_date: datetime.datetime | None = None


def _last_attempt(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of the run's last attempt: after its last ExecutionRedriven, if it has one."""
    marks = [i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven"]
    return events[marks[-1] + 1 :] if marks else events


def _unfinished_states(events: list[dict[str, Any]]) -> list[str]:
    """The states the last attempt entered and never left: the ones a redrive runs again."""
    open_states: list[str] = []
    for event in _last_attempt(events):
        if "stateEnteredEventDetails" in event:
            open_states.append(event["stateEnteredEventDetails"]["name"])
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            if name in open_states:
                del open_states[len(open_states) - 1 - open_states[::-1].index(name)]  # its latest entry
    return open_states


def _redrive_verdict(described: dict[str, Any], events: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether a redrive would take the run on, and where it restarts; else why it would not help.

    A redrive runs again the states the run entered and did not leave, with the input they got;
    every state it left (a Catch leaves a state too) keeps its result and does not run again.
    """
    status = described.get("status", "")
    if status == "SUCCEEDED":
        return False, "it SUCCEEDED: a redrive restarts a run that failed, timed out or was aborted"
    if status == "RUNNING":
        return False, "it is still RUNNING: a redrive restarts a run once it failed, timed out or was aborted"
    if ":express:" in described.get("executionArn", ""):
        return False, "it is an Express run: Step Functions redrives Standard runs only; start it again"
    if described.get("redriveStatus") != "REDRIVABLE":
        reason = described.get("redriveStatusReason") or described.get("redriveStatus") or "no redrive status"
        return False, f"Step Functions will not redrive it: {reason}"
    last = _last_attempt(events)
    ended_in = next((e for e in reversed(last) if "stateEnteredEventDetails" in e), None)
    if ended_in is not None and ended_in["type"] == "FailStateEntered":
        name = ended_in["stateEnteredEventDetails"]["name"]
        return False, (
            f"it ended in its Fail state {name}: every step before it was left (a Catch leaves its step), "
            f"so a redrive would run {name} alone, which fails again; fix the cause, then submit the "
            "document again"
        )
    unfinished = _unfinished_states(events)
    where = ", ".join(dict.fromkeys(unfinished)) or "where it stopped"
    return True, f"restarts at {where}, with the input it had; the steps it finished are not run again"


def _redrive(sfn: Any, arn: str) -> datetime.datetime:
    from aiflows_runtime.errors import error_code

    try:
        answer = sfn.redrive_execution(executionArn=arn)
    except Exception as exc:
        if error_code(exc) in ("ExecutionNotRedrivable", "ExecutionLimitExceeded"):
            raise OpsError(str(getattr(exc, "response", {}).get("Error", {}).get("Message", exc))) from exc
        raise
    redriven: datetime.datetime = answer["redriveDate"]
    return redriven


def redrive_run(clients: Clients, execution_arn: str, dry_run: bool = False) -> Redriven:
    """Redrive one run: it goes on from the steps that did not finish. OpsError says why it cannot."""
    from aiflows_runtime.errors import error_code

    if not execution_arn.startswith("arn:") or not (
        ":execution:" in execution_arn or ":express:" in execution_arn
    ):
        raise OpsError(
            f"{execution_arn!r} is not an execution ARN "
            "(arn:aws:states:<region>:<account>:execution:<flow>:<name>): "
            "`python -m aiflows runs failed` lists the failed runs with theirs"
        )
    sfn = clients("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except Exception as exc:
        if error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn"):
            raise OpsError(f"no run {execution_arn} (is --endpoint-url or the region right?)") from exc
        raise
    redrivable, note = _redrive_verdict(described, _history(sfn, execution_arn))
    if not redrivable:
        raise OpsError(f"{execution_arn} cannot be redriven: {note}")
    if dry_run:
        return Redriven(execution_arn, "would be redriven", note)
    return Redriven(execution_arn, "redriven", note, _redrive(sfn, execution_arn))


def redrive_failed_runs(
    clients: Clients, stack: str, flow: str, since: datetime.datetime, dry_run: bool = False
) -> list[Redriven]:
    """Redrive every run of the flow that failed, timed out or was aborted since then and that a
    redrive would take on; the others are listed with why not. Newest first."""
    sfn = clients("stepfunctions")
    results = []
    for run in failed_runs(clients, stack, flow, since):
        if not run.redrivable:
            results.append(Redriven(run.execution_arn, "not redriven", run.redrive_note))
        elif dry_run:
            results.append(Redriven(run.execution_arn, "would be redriven", run.redrive_note))
        else:
            try:
                date = _redrive(sfn, run.execution_arn)
            except OpsError as refused:
                results.append(Redriven(run.execution_arn, "not redriven", str(refused)))
                continue
            results.append(Redriven(run.execution_arn, "redriven", run.redrive_note, date))
    return results


@dataclass(frozen=True)
class RunCost:
    correlation_id: str
    execution_arn: str
    status: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def run_costs(clients: Clients, stack: str, flow: str, since: datetime.datetime) -> list[RunCost]:
    """Every run since then with its ledger's total, the most expensive first."""
    from aiflows_runtime.state import DynamoDBLedger

    values = outputs(clients, stack)
    ledger = DynamoDBLedger(_output(values, "StateTableName", stack), client=clients("dynamodb"))
    statuses = ("RUNNING", "SUCCEEDED", *ENDED_BADLY)
    sfn = clients("stepfunctions")
    rows = []
    for execution in _executions(clients, _machine(clients, stack, flow), statuses, since):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        correlation_id = _correlation_id(described)
        if not correlation_id:
            continue
        total = ledger.total(correlation_id)
        rows.append(
            RunCost(
                correlation_id,
                execution["executionArn"],
                execution["status"],
                total.calls,
                total.input_tokens,
                total.output_tokens,
                total.cost_usd,
            )
        )
    return sorted(rows, key=lambda r: r.cost_usd, reverse=True)


def model_spend(
    clients: Clients, stack: str, correlation_id: str
) -> dict[tuple[str, str], tuple[int, float]]:
    """One run's spend by (capability, model): calls and dollars, from its ledger."""
    from aiflows_runtime.state import DynamoDBLedger

    ledger = DynamoDBLedger(
        _output(outputs(clients, stack), "StateTableName", stack), client=clients("dynamodb")
    )
    spend: dict[tuple[str, str], tuple[int, float]] = {}
    for entry in ledger.entries(correlation_id):
        calls, dollars = spend.get((entry.capability, entry.model_id), (0, 0.0))
        spend[(entry.capability, entry.model_id)] = (calls + 1, dollars + entry.cost_usd)
    return spend


# --- the audit trail --------------------------------------------------------------
def audit_trail(clients: Clients, stack: str, run: str) -> tuple[str, list[Any]]:
    """A run's audit records, oldest first, and its correlation id: ``run`` is one, or the run's
    execution ARN (whose input's event id it is)."""
    from aiflows_runtime.state import DynamoDBAuditTrail

    correlation_id = run
    if run.startswith("arn:"):
        try:
            described = clients("stepfunctions").describe_execution(executionArn=run)
        except Exception as exc:
            raise OpsError(f"no execution {run} ({exc}): give its ARN, or the run's correlation id") from exc
        correlation_id = _correlation_id(described)
        if not correlation_id:
            raise OpsError(f"execution {run} was not started by an event: it has no correlation id")
    table = _output(outputs(clients, stack), "StateTableName", stack)
    return correlation_id, DynamoDBAuditTrail(table, client=clients("dynamodb")).of_run(correlation_id)


# --- dead-letter queues -----------------------------------------------------------
@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    sent: datetime.datetime
    receives: int
    summary: str  # what the message is about, never its document content


def _dlq(clients: Clients, stack: str, queue: str) -> tuple[str, str]:
    if queue not in DEAD_LETTER_QUEUES:
        raise OpsError(f"no dead-letter queue {queue!r}: one of {', '.join(DEAD_LETTER_QUEUES)}")
    values = outputs(clients, stack)
    dlq_key, source_key = DEAD_LETTER_QUEUES[queue]
    return _output(values, dlq_key, stack), _output(values, source_key, stack)


def _summary(queue: str, body: str, attributes: dict[str, Any]) -> str:
    try:
        message = json.loads(body)
    except ValueError:
        return f"not JSON ({len(body)} bytes)"
    if queue == "event-targets":
        error = attributes.get("ERROR_CODE", {}).get("StringValue", "")
        reason = attributes.get("ERROR_MESSAGE", {}).get("StringValue", "")
        return (
            f"event {message.get('detail-type', '?')} id {message.get('id', '?')}: {error} {reason}".strip()
        )
    return (
        f"run {message.get('correlation_id', '?')} ({message.get('flow', '?')}), "
        f"document {message.get('document', {}).get('document_id', '?')}"
    )


def dead_letters(clients: Clients, stack: str, queue: str, limit: int = 100) -> list[DeadLetter]:
    """Look at up to ``limit`` messages without taking them (they stay visible).

    SQS has no peek: looking is a receive, so each listing adds one to a message's
    receive count (the "received Nx" it shows).
    """
    url, _ = _dlq(clients, stack, queue)
    sqs = clients("sqs")
    seen: dict[str, DeadLetter] = {}
    for _ in range(max(1, limit // 10) + 2):
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=1,  # a long poll: a short one may miss messages of a small queue
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in got:
            system = message.get("Attributes", {})
            seen.setdefault(
                message["MessageId"],
                DeadLetter(
                    message["MessageId"],
                    datetime.datetime.fromtimestamp(int(system.get("SentTimestamp", 0)) / 1000, datetime.UTC),
                    int(system.get("ApproximateReceiveCount", 0)),
                    _summary(queue, message["Body"], message.get("MessageAttributes", {})),
                ),
            )
        if not got or len(seen) >= limit:
            break
    return sorted(seen.values(), key=lambda d: d.sent)[:limit]


def redrive(clients: Clients, stack: str, queue: str) -> int:
    """Send every message back where it came from, then delete it here; how many moved.

    Work goes back to the work queue (a worker drops it if its flow stopped waiting);
    an event that no target took goes back on the bus, as the same source, type and detail.
    """
    url, source = _dlq(clients, stack, queue)
    sqs = clients("sqs")
    # What is there now, not what comes back while it runs: a message that fails again
    # returns to this queue, and must not be redriven in a loop.
    waiting = int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    moved = 0
    while moved < waiting:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, waiting - moved),
            VisibilityTimeout=60,
            WaitTimeSeconds=2,  # a long poll: stop only when one finds nothing
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            break
        for message in got:
            if queue == "event-targets":
                event = json.loads(message["Body"])
                answer = clients("events").put_events(
                    Entries=[
                        {
                            "EventBusName": source,
                            "Source": event["source"],
                            "DetailType": event["detail-type"],
                            "Detail": json.dumps(event["detail"]),
                        }
                    ]
                )
                if answer.get("FailedEntryCount"):
                    raise OpsError(f"the bus refused event {event.get('id')}: {answer['Entries']}")
            else:
                attributes = {
                    k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                    for k, v in message.get("MessageAttributes", {}).items()
                    if "StringValue" in v
                }
                sqs.send_message(QueueUrl=source, MessageBody=message["Body"], MessageAttributes=attributes)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


# --- circuit breakers ---------------------------------------------------------------
@dataclass(frozen=True)
class BreakerRow:
    model: str
    state: str
    failures: int
    opened_at: float
    last_error: str
    reopens_at: float  # when an open breaker lets its next probe through


def _breaker(clients: Clients, stack: str) -> Any:
    from aiflows_runtime.policies import routing_policy
    from aiflows_runtime.state import CircuitBreaker, DynamoDBBreakerStore

    table = _output(outputs(clients, stack), "StateTableName", stack)
    return CircuitBreaker(DynamoDBBreakerStore(table, client=clients("dynamodb")), routing_policy().breaker)


def breakers(clients: Clients, stack: str) -> list[BreakerRow]:
    """Each routed model's breaker, as the gateway sees it."""
    from aiflows_runtime.policies import routing_policy

    policy = routing_policy()
    breaker = _breaker(clients, stack)
    rows = []
    for model in sorted(policy.models):
        state = breaker.read(model)
        rows.append(
            BreakerRow(
                model,
                state.state,
                state.failures,
                state.opened_at,
                state.last_error,
                state.opened_at + policy.breaker.open_seconds if state.state != "closed" else 0.0,
            )
        )
    return rows


def close_breaker(clients: Clients, stack: str, model: str) -> BreakerRow:
    from aiflows_runtime.policies import routing_policy

    if model not in routing_policy().models:
        raise OpsError(f"no model {model!r} in the routing policy")
    state = _breaker(clients, stack).close(model)
    return BreakerRow(model, state.state, state.failures, state.opened_at, state.last_error, 0.0)


# --- logs ------------------------------------------------------------------------
@dataclass(frozen=True)
class LogLine:
    function: str
    at: datetime.datetime
    level: str
    message: str
    error: str


def run_logs(clients: Clients, stack: str, correlation_id: str, errors_only: bool = False) -> list[LogLine]:
    """What every function of the stack logged about one run (its correlation id), in time order."""
    from aiflows_runtime.errors import error_code

    values = outputs(clients, stack)
    functions = sorted(v for k, v in values.items() if k.endswith("FunctionName"))
    lambdas, logs = clients("lambda"), clients("logs")
    lines = []
    for function in functions:
        configuration = lambdas.get_function_configuration(FunctionName=function)
        group = configuration.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{function}"
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern=f'"{correlation_id}"'
        )
        try:
            events = [event for page in pages for event in page["events"]]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue  # a function that never ran has no log group yet
            raise
        for event in events:
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue  # START/END/REPORT lines
            if not isinstance(record, dict) or record.get("correlation_id") != correlation_id:
                continue
            level = str(record.get("level", ""))
            if errors_only and level not in ("ERROR", "CRITICAL", "WARNING"):
                continue
            lines.append(
                LogLine(
                    function=str(record.get("capability") or function),
                    at=datetime.datetime.fromtimestamp(event["timestamp"] / 1000, datetime.UTC),
                    level=level,
                    message=" ".join(
                        [str(record.get("message", ""))]
                        + [f"{key}={record[key]}" for key in LOGGED_DETAILS if key in record]
                    ),
                    error=str(record.get("exception_name") or ""),
                )
            )
    return sorted(lines, key=lambda line: line.at)
