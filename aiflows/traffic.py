"""Traffic on the flows: put a batch of events on the bus, answer the reviews, check what must hold.

The chaos suite (``tests/chaos``) runs a batch under injected faults, the load
benchmark (``bench/load.py``) a burst of them; both check the same invariants
(:func:`check`):

1. every event started a run, and every run ended: SUCCEEDED, or FAILED in one of its
   flow's named failure states; none is lost, none is stuck;
2. no action is performed twice, and no run announces its outcome twice;
3. no model call is charged twice: the ledger's paid lines are the calls the model
   answered for the run, one for one;
4. the ledger's sums equal its lines;
5. no run passes its budget;
6. the work queue and its dead-letter queue are empty once the runs ended.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from aiflows import ops
from aiflows.flows import action_policies, flows, read_sample
from aiflows.registry import camel
from aiflows.testing import decide, drained
from aiflows_runtime.policies import ActionPolicy
from aiflows_runtime.reviews import AlreadyDecided, FlowNoLongerWaits, ReviewNotFound
from aiflows_runtime.state import DynamoDBLedger, DynamoDBReviews
from infra.weave import ALREADY_STARTED
from localcloud import Deployment, LocalCloud

ROOT = Path(__file__).resolve().parents[1]
LOG = logging.getLogger(__name__)
QUEUE_DRAIN_SECONDS = 60.0  # real time for a message a crashed worker left to come back and be done
REVIEWER = "traffic@example.com"  # who approves the reviews the runs ask for


class InvariantBroken(AssertionError):
    """A run, the ledger or a queue is not as a dependable flow leaves it."""


def holds(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantBroken(message)


def sample(flow: str, name: str) -> dict[str, Any]:
    return read_sample(ROOT / "statemachines" / flow / "events" / f"{name}.json")


def batch(
    tag: str, long_documents: int = 0, names: tuple[tuple[str, str], ...] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A mixed batch of (flow, PutEvents entry), each document its own: every kind of outcome."""
    entries = [
        ("document_intake", sample("document_intake", name))
        for name in ("clear", "review", "blocked", "invalid")
    ] + [("ticket_triage", sample("ticket_triage", name)) for name in ("outage", "sample")]
    if names is not None:
        entries = [(flow, sample(flow, name)) for flow, name in names]
    long = sample("document_intake", "clear")
    long["Detail"] = {**long["Detail"], "text": "Invoice line: 12 boxes of paper, 40.00 EUR. " * 1800}
    entries += [("document_intake", json.loads(json.dumps(long))) for _ in range(long_documents)]
    made = []
    for n, (flow, entry) in enumerate(entries):
        detail = dict(entry["Detail"])
        for key in ("document_id", "ticket_id"):
            if key in detail:
                detail[key] = f"{tag}-{n}-{detail[key]}"[:64]
        made.append((flow, {**entry, "Detail": detail}))
    return made


@dataclass
class Run:
    event_id: str
    flow: str
    executions: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0  # how often an operator resumed it from a Park<State>


@dataclass
class Traffic:
    cloud: LocalCloud
    app: Deployment
    reviewer: bool = True

    def start(self, entries: list[tuple[str, dict[str, Any]]]) -> list[Run]:
        """Put each event on the bus as a careful producer does: an entry the bus refuses is put again."""
        events = self.cloud.client("events")
        runs = []
        for flow, entry in entries:
            wire = {
                **entry,
                "EventBusName": self.app.outputs["EventBusName"],
                "Detail": json.dumps(entry["Detail"]),
            }
            for _ in range(20):
                answer = events.put_events(Entries=[wire])
                if not answer["FailedEntryCount"]:
                    break
            else:
                raise AssertionError(f"the bus refused {entry['DetailType']} twenty times")
            runs.append(Run(answer["Entries"][0]["EventId"], flow))
        return runs

    def executions(self, flow: str) -> dict[str, list[dict[str, Any]]]:
        """The flow's executions, by the id of the event that started them."""
        sfn = self.cloud.client("stepfunctions")
        found: dict[str, list[dict[str, Any]]] = {}
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.app.outputs[f"{camel(flow)}StateMachineArn"]
        )
        for page in pages:
            for listed in page["executions"]:
                described = sfn.describe_execution(executionArn=listed["executionArn"])
                found.setdefault(json.loads(described["input"]).get("id"), []).append(dict(described))
        return found

    def parked(self) -> set[str]:
        """The executions that wait, parked, to be resumed (docs/flows.md#parked-runs)."""
        return {r.execution_arn for r in ops.parked_runs(self.cloud.client, self.app.stack_name)}

    def resume_parked(self, runs: list[Run], timeout: float) -> int:
        """The operator's part once the faults are over: resume every parked run, and wait for the
        runs again; how many were resumed."""
        resumed = ops.unpark(self.cloud.client, self.app.stack_name, resume=True)
        for done in resumed:
            for run in runs:
                run.resumed += any(e["executionArn"] == done.run.execution_arn for e in run.executions)
        if resumed:
            self.wait(runs, timeout)
        return len(resumed)

    def wait(self, runs: list[Run], timeout: float) -> None:
        """Until every run's execution ended or parked (approving reviews meanwhile), or the timeout."""
        stop = threading.Event()
        reviewer = threading.Thread(target=self._review, args=(stop,), daemon=True)
        if self.reviewer:
            reviewer.start()
        deadline = time.monotonic() + timeout
        try:
            while True:
                by_flow = {flow: self.executions(flow) for flow in {r.flow for r in runs}}
                for run in runs:
                    run.executions = by_flow[run.flow].get(run.event_id, [])
                running = {e["executionArn"] for r in runs for e in r.executions if e["status"] == "RUNNING"}
                ended = all(r.executions for r in runs) and not (running and running - self.parked())
                if ended or time.monotonic() > deadline:
                    return
                time.sleep(0.5)
        finally:
            stop.set()
            if self.reviewer:
                reviewer.join(timeout=10)

    def _review(self, stop: threading.Event) -> None:
        store = DynamoDBReviews(self.app.outputs["StateTableName"], client=self.cloud.client("dynamodb"))
        while not stop.is_set():
            try:
                for review in store.pending():
                    decide(self.cloud, self.app, review.review_id, "approve", REVIEWER)
            except (AlreadyDecided, ReviewNotFound, FlowNoLongerWaits, ClientError) as gone:
                # decided or expired meanwhile, or a fault refused the call: look again
                LOG.debug("review not decided: %r", gone)
            stop.wait(0.3)


def fail_states(flow: str) -> set[str]:
    """The names of the flow's Fail states, as deployed (the framework's named ends included)."""
    names: set[str] = set()

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Fail":
                names.add(name)
            for inner in state.get("Branches", []):
                walk(inner["States"])
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key]["States"])

    walk(flows()[flow].woven()["States"])
    return names


def ended_at(cloud: LocalCloud, execution_arn: str) -> str:
    """The state a failed execution ended in: the last state it entered."""
    pages = (
        cloud.client("stepfunctions")
        .get_paginator("get_execution_history")
        .paginate(executionArn=execution_arn)
    )
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for page in pages
        for e in page["events"]
        if "stateEnteredEventDetails" in e
    ]
    return entered[-1] if entered else ""


def repeats_of(cloud: LocalCloud, run: Run) -> list[dict[str, Any]]:
    """The executions of a second delivery of the run's event: those that ended AlreadyStarted."""
    if len(run.executions) < 2:
        return []
    return [e for e in run.executions if ended_at(cloud, e["executionArn"]) == ALREADY_STARTED]


def worked(cloud: LocalCloud, run: Run) -> list[dict[str, Any]]:
    """The executions of the run's event that did its work (one, when the claim holds)."""
    repeats = repeats_of(cloud, run)
    return [e for e in run.executions if e not in repeats]


def action_sources() -> set[str]:
    """The sources of the events the flows' actions put (each flow's ``actions.toml``)."""
    return {ActionPolicy.model_validate(p).put_event.source for p in action_policies().values()}


def budget_of(flow: str) -> float:
    budget = flows()[flow].manifest.budget_usd
    holds(budget is not None, f"{flow} has no budget to hold")
    assert budget is not None
    return float(budget)


def check(traffic: Traffic, runs: list[Run], bus: list[dict[str, Any]], scenario: str) -> dict[str, Any]:
    """Check the invariants over one batch's runs (:class:`InvariantBroken`); what held, as figures."""
    cloud, app = traffic.cloud, traffic.app
    # 1. every event started exactly one run that did its work (an execution of a second delivery
    #    of the event ends AlreadyStarted, having done nothing), and it ended by name
    stuck = [
        r.event_id for r in runs if not r.executions or any(e["status"] == "RUNNING" for e in r.executions)
    ]
    holds(not stuck, f"{scenario}: runs lost or stuck: {stuck}")
    statuses: Counter[str] = Counter()
    for run in runs:
        repeats, working = repeats_of(cloud, run), worked(cloud, run)
        holds(len(working) == 1, f"{scenario}: event {run.event_id} started {len(working)} runs that worked")
        holds(all(e["status"] == "SUCCEEDED" for e in repeats), f"{scenario}: a repeat did not succeed")
        if repeats:
            statuses[ALREADY_STARTED] += len(repeats)
        execution = working[0]
        if execution["status"] == "SUCCEEDED":
            statuses["SUCCEEDED"] += 1
            continue
        holds(execution["status"] == "FAILED", f"{scenario}: run {run.event_id} ended {execution['status']}")
        state = ended_at(cloud, execution["executionArn"])
        holds(
            state in fail_states(run.flow),
            f"{scenario}: run {run.event_id} of {run.flow} failed at {state!r} with "
            f"{execution.get('error')!r} ({execution.get('cause', '')[:300]}), not in a named failure state",
        )
        statuses[state] += 1
    # 2. no action twice, no outcome announced twice: EventBridge may deliver one event to the
    #    observer twice too, so each is counted once, by its id
    seen = list({e["id"]: e for e in drained(cloud, bus)}.values())
    actions = Counter(
        (e["detail-type"], e["detail"].get("action_id"))
        for e in seen
        if e["source"] in action_sources() and e["detail"].get("action_id")
    )
    holds(all(n == 1 for n in actions.values()), f"{scenario}: actions performed twice: {actions}")
    ids = {r.event_id for r in runs}
    outcomes = Counter(
        (e["detail-type"], e["detail"].get("correlation_id"))
        for e in seen
        if e["detail"].get("correlation_id") in ids and e["detail-type"] != "review.requested"
    )
    holds(all(n == 1 for n in outcomes.values()), f"{scenario}: an outcome announced twice: {outcomes}")
    # 3-5. the ledger: one paid line per paid call, sums equal lines, within the budget
    ledger = DynamoDBLedger(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    paid_calls = Counter(c.correlation_id for c in cloud.model.calls if c.paid)
    for run in runs:
        entries = [e for e in ledger.entries(run.event_id) if not e.cache_hit]
        holds(
            len(entries) == paid_calls[run.event_id],
            f"{scenario}: run {run.event_id}: {len(entries)} ledger lines, "
            f"{paid_calls[run.event_id]} paid calls",
        )
        total, lines = ledger.total(run.event_id), ledger.entries(run.event_id)
        holds(
            total.calls == len(lines)
            and total.input_tokens == sum(e.input_tokens for e in lines)
            and math.isclose(total.cost_usd, sum(e.cost_usd for e in lines), rel_tol=1e-9, abs_tol=1e-12),
            f"{scenario}: run {run.event_id}: the ledger's total {total} is not the sum of its lines",
        )
        holds(total.cost_usd <= budget_of(run.flow), f"{scenario}: run {run.event_id} passed its budget")
    # 6. nothing left waiting in the queues: a message a crashed worker left comes back after its
    #    visibility timeout, is found done (idempotent) and deleted, so the queues get time to drain
    sqs = cloud.client("sqs")
    for output in ("WorkQueueUrl", "WorkDeadLetterQueueUrl"):
        deadline, left = time.monotonic() + QUEUE_DRAIN_SECONDS, -1
        while left and time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(
                QueueUrl=app.outputs[output],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            left = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
            if left:
                time.sleep(0.5)
        holds(left == 0, f"{scenario}: {left} messages left in {output} after {QUEUE_DRAIN_SECONDS} s")
    summary = {
        "scenario": scenario,
        "runs": len(runs),
        "injected": dict(cloud.faults.injected),
        "ended": dict(statuses),
        "paid_calls": sum(paid_calls[r.event_id] for r in runs),
        "resumed": sum(r.resumed for r in runs),
    }
    return summary
