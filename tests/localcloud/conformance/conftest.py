"""The conformance suite's kit: one local cloud per module, and a way to run a definition.

Every case names the AWS rule it checks (its parametrize id or its docstring) and takes
its expected values from AWS's documents (the Amazon States Language specification and
the Step Functions developer guide), never from what the local cloud returns.

    def test_something(run: Runner) -> None:
        result = run(single({"Type": "Pass", "Result": 1}), {"a": 1})
        assert result.output == 1

``check(run, case)`` runs a data-driven :class:`Case`: a definition, an input and the
expected output or error (its name, and a substring of its cause where the docs fix it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/conformance"
JSONATA = {"QueryLanguage": "JSONata"}  # a machine written in JSONata: single(..., **JSONATA)
ACCOUNT = "123456789012"
REGION = "us-east-1"
MISSING: Any = object()  # a Case without an expected output


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """One local cloud per test module, 100 times faster waits and retries."""
    with LocalCloud(time_scale=0.01) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(cloud: LocalCloud) -> Any:
    return cloud.client("stepfunctions")


@dataclass
class Run:
    """A finished execution: what DescribeExecution and GetExecutionHistory said."""

    arn: str
    name: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(repr=False)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    def exited(self, state: str) -> dict[str, Any]:
        """The stateExitedEventDetails of the (last) exit of a state."""
        details = [
            e["stateExitedEventDetails"]
            for e in self.events
            if "stateExitedEventDetails" in e and e["stateExitedEventDetails"]["name"] == state
        ]
        assert details, f"{state} never exited: {self.summary()}"
        return details[-1]

    def summary(self) -> str:
        return f"{self.status} error={self.error!r} cause={self.cause!r} output={self.output!r}"


class Runner:
    """Creates a state machine from a definition, starts it with an input and waits for its end."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.sfn = cloud.client("stepfunctions")

    def create(self, definition: dict[str, Any], machine_type: str = "STANDARD") -> str:
        return str(
            self.sfn.create_state_machine(
                name=f"conformance-{uuid.uuid4().hex[:12]}",
                definition=json.dumps(definition),
                roleArn=ROLE,
                type=machine_type,
            )["stateMachineArn"]
        )

    def start(
        self, machine: str, input: Any = None, *, name: str | None = None, raw: str | None = None
    ) -> str:
        kwargs: dict[str, Any] = {
            "stateMachineArn": machine,
            "input": raw if raw is not None else dumps(input),
        }
        if name:
            kwargs["name"] = name
        return str(self.sfn.start_execution(**kwargs)["executionArn"])

    def finish(self, arn: str, timeout: float = 60) -> Run:
        described = self.cloud.wait_for_execution(arn, timeout=timeout)
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.sfn.get_execution_history(
                executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                break
        return Run(
            arn=arn,
            name=described["name"],
            status=described["status"],
            output=parsed(described.get("output")),
            error=described.get("error"),
            cause=described.get("cause"),
            events=events,
        )

    def __call__(
        self,
        definition: dict[str, Any],
        input: Any = None,
        *,
        name: str | None = None,
        raw: str | None = None,
        timeout: float = 60,
    ) -> Run:
        return self.finish(self.start(self.create(definition), input, name=name, raw=raw), timeout=timeout)

    def refused_or_failed(self, definition: dict[str, Any], input: Any = None) -> None:
        """What the docs forbid is either refused at creation or fails the execution: never a success."""
        try:
            machine = self.create(definition)
        except ClientError:
            return
        result = self.finish(self.start(machine, input))
        assert result.status == "FAILED", result.summary()


@pytest.fixture
def run(cloud: LocalCloud) -> Runner:
    return Runner(cloud)


@dataclass(frozen=True)
class NotJson:
    """An output that is not a JSON text (AWS: "the output of a state MUST be a JSON text")."""

    text: str


def parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return NotJson(text)


def dumps(value: Any) -> str:
    return json.dumps({} if value is None else value)


# --- definitions, short ----------------------------------------------------------
TERMINAL = ("Choice", "Succeed", "Fail")


def single(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine of one state, named "S" (ended, unless it is a Choice, Succeed or Fail)."""
    return chain(state, **top)


def chain(*states: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine of states S0, S1, … run one after the other (the last one ends)."""
    names = ["S"] if len(states) == 1 else [f"S{i}" for i in range(len(states))]
    built: dict[str, Any] = {}
    for i, (name, state) in enumerate(zip(names, states, strict=True)):
        state = dict(state)
        if state["Type"] not in TERMINAL and "Next" not in state and "End" not in state:
            if i + 1 < len(states):
                state["Next"] = names[i + 1]
            else:
                state["End"] = True
        built[name] = state
    return {**top, "StartAt": names[0], "States": built}


def branch(*states: dict[str, Any], prefix: str | None = None) -> dict[str, Any]:
    """A Parallel branch or a Map ItemProcessor, built like :func:`chain`, its state names prefixed."""
    inner = chain(*states)
    prefix = prefix or f"B{uuid.uuid4().hex[:6]}"
    renamed = {f"{prefix}{name}": state for name, state in inner["States"].items()}
    for state in renamed.values():
        if "Next" in state:
            state["Next"] = f"{prefix}{state['Next']}"
    return {"StartAt": f"{prefix}{inner['StartAt']}", "States": renamed}


PASS: dict[str, Any] = {"Type": "Pass"}


def fail(error: str, cause: str) -> dict[str, Any]:
    return {"Type": "Fail", "Error": error, "Cause": cause}


# --- data-driven cases -----------------------------------------------------------
@dataclass(frozen=True)
class Case:
    rule: str  # one line: the AWS rule, and where AWS states it
    definition: dict[str, Any]
    input: Any = None
    output: Any = MISSING
    error: str | None = None
    cause: str | None = None  # a substring of the cause, where the docs fix it


def cases(*items: Case) -> list[Any]:
    return [pytest.param(case, id=case.rule) for case in items]


def check(run: Callable[..., Run], case: Case) -> Run:
    result = run(case.definition, case.input)
    if case.error is not None:
        assert (result.status, result.error) == ("FAILED", case.error), result.summary()
        if case.cause is not None:
            assert case.cause in (result.cause or ""), result.summary()
    else:
        assert result.status == "SUCCEEDED", result.summary()
        if case.output is not MISSING:
            assert result.output == case.output
    return result
