"""JSONata states, as AWS documents them.

Sources: the developer guide page "Transforming data with JSONata in Step Functions"
("JSONata page"), "State machine structure" and the ASL spec's JSONata Concepts.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.localcloud.conformance.conftest import (
    JSONATA,
    PASS,
    ROLE,
    Case,
    Runner,
    branch,
    cases,
    chain,
    check,
    fail,
    single,
)


def output(expression: Any, **state: Any) -> dict[str, Any]:
    """A JSONata machine of one Pass whose Output is ``expression``."""
    return single({"Type": "Pass", "Output": expression, **state}, **JSONATA)


STUDENT = {
    "student": {
        "name": "Scotland",
        "course": [{"grade": 34}, {"grade": 99}, {"grade": 76}, {"grade": 96}],
    },
    "class": {"teacher": "Bert"},
    "two": "the number 2",
}

CASES = cases(
    Case(
        "QueryLanguage JSONata at the top level: Output is a {% %} expression on $states.input (ASL spec)",
        output("{% $states.input.a + 1 %}"),
        {"a": 41},
        42,
    ),
    Case(
        "A JSONata state in a JSONPath machine: QueryLanguage per state (ASL spec, Query Languages example)",
        chain(
            {"Type": "Pass", "Parameters": {"total.$": "$.transaction.total"}},
            {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"total": "{% $states.input.total %}"}},
        ),
        {"transaction": {"total": 12.5}},
        {"total": 12.5},
    ),
    Case(
        "JSONata Pass without Output copies its input to its output (ASL spec, JSONata Pass State)",
        single(PASS, **JSONATA),
        {"a": [1, 2]},
        {"a": [1, 2]},
    ),
    Case(
        "JSONata strings nested in objects and arrays are each evaluated (ASL spec, JSONata Evaluation)",
        chain(
            {"Type": "Pass", "Assign": STUDENT},
            {
                "Type": "Pass",
                "Output": {
                    "student": "{% $student.name %}",
                    "classInfo": {"teacher": "{% $class.teacher %}"},
                    "values": [1, "{% $two %}", "three"],
                },
            },
            **JSONATA,
        ),
        {},
        {"student": "Scotland", "classInfo": {"teacher": "Bert"}, "values": [1, "the number 2", "three"]},
    ),
    Case(
        "A whole Output computed by one expression, average 76.25 of 4 (ASL spec, JSONata Evaluation)",
        chain(
            {"Type": "Pass", "Assign": STUDENT},
            {
                "Type": "Pass",
                "Output": "{% { 'avg': $average($student.course.grade), 'num': $count($student.course) } %}",
            },
            **JSONATA,
        ),
        {},
        {"avg": 76.25, "num": 4},
    ),
    Case(
        "A string without {% %} is a literal, not evaluated (JSONata page, not-evaluated example)",
        output({"static": "Hello", "not-evaluated": "$customerName"}),
        {},
        {"static": "Hello", "not-evaluated": "$customerName"},
    ),
    Case(
        "Parallel Arguments are each branch's input; Output reads "
        "$states.result (ASL spec, Arguments and Output)",
        single(
            {
                "Type": "Parallel",
                "Arguments": {"n": "{% $states.input.x * 2 %}"},
                "Branches": [branch(PASS), branch({"Type": "Pass", "Output": "{% $states.input.n + 1 %}"})],
                "Output": {"result": "{% $states.result %}", "input": "{% $states.input %}"},
            },
            **JSONATA,
        ),
        {"x": 5},
        {"result": [{"n": 10}, 11], "input": {"x": 5}},
    ),
    Case(
        "Parallel without Output: the state output is the result array (ASL spec, Parallel State)",
        single(
            {"Type": "Parallel", "Branches": [branch({"Type": "Pass", "Output": "{% 'a' %}"})]}, **JSONATA
        ),
        {},
        ["a"],
    ),
    Case(
        "$states.context is the Context object, e.g. $states.context.State.Name (ASL spec, $states)",
        output({"state": "{% $states.context.State.Name %}"}),
        {},
        {"state": "S"},
    ),
    Case(
        "A Catcher's Output reads $states.errorOutput and $states.input (ASL spec, JSONata Catchers)",
        chain(
            {
                "Type": "Parallel",
                "Branches": [branch(fail("Oops", "bad"))],
                "Catch": [
                    {
                        "ErrorEquals": ["Oops"],
                        "Output": {"err": "{% $states.errorOutput %}", "in": "{% $states.input %}"},
                        "Next": "S1",
                    }
                ],
            },
            PASS,
            **JSONATA,
        ),
        {"a": 1},
        {"err": {"Error": "Oops", "Cause": "bad"}, "in": {"a": 1}},
    ),
    Case(
        "A JSONata Catcher without Output: the state output is the Error Output (ASL spec, JSONata Catchers)",
        chain(
            {
                "Type": "Parallel",
                "Branches": [branch(fail("Oops", "bad"))],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S1"}],
            },
            PASS,
            **JSONATA,
        ),
        {"a": 1},
        {"Error": "Oops", "Cause": "bad"},
    ),
    Case(
        "Map Items selects the array; ItemSelector reads "
        "$states.context.Map.Item.Value (ASL spec, JSONata Map)",
        single(
            {
                "Type": "Map",
                "Items": "{% $states.input.detail.shipped %}",
                "MaxConcurrency": 0,
                "ItemSelector": {
                    "parcel": "{% $states.context.Map.Item.Value %}",
                    "courier": "{% $states.input.detail.partner %}",
                },
                "ItemProcessor": branch(PASS),
                "Output": {
                    "numItemsProcessed": "{% $count($states.input.detail.shipped) %}",
                    "r": "{% $states.result %}",
                },
            },
            **JSONATA,
        ),
        {"detail": {"partner": "UQS", "shipped": [{"prod": "R31"}, {"prod": "S39"}]}},
        {
            "numItemsProcessed": 2,
            "r": [
                {"parcel": {"prod": "R31"}, "courier": "UQS"},
                {"parcel": {"prod": "S39"}, "courier": "UQS"},
            ],
        },
    ),
    Case(
        "Map without Items or ItemReader iterates over the state input array (ASL spec, Selecting Items)",
        single(
            {"Type": "Map", "ItemProcessor": branch({"Type": "Pass", "Output": "{% $states.input * 10 %}"})},
            **JSONATA,
        ),
        [1, 2, 3],
        [10, 20, 30],
    ),
    Case(
        "Map Items may be a literal JSON array (ASL spec, Selecting Items)",
        single({"Type": "Map", "Items": [1, 2], "ItemProcessor": branch(PASS)}, **JSONATA),
        {},
        [1, 2],
    ),
    Case(
        "Wait Seconds may be a JSONata expression; the output is the input (ASL spec, JSONata Wait State)",
        single({"Type": "Wait", "Seconds": "{% $states.input.s %}"}, **JSONATA),
        {"s": 1},
        {"s": 1},
    ),
    Case(
        "Wait Timestamp may be a JSONata expression (ASL spec, JSONata Wait State example)",
        single({"Type": "Wait", "Timestamp": "{% $states.input.expirydate %}"}, **JSONATA),
        {"expirydate": "2016-03-14T01:59:00Z"},
        {"expirydate": "2016-03-14T01:59:00Z"},
    ),
    Case(
        "Fail Error and Cause may be JSONata expressions (ASL spec, JSONata Fail State example)",
        single(
            {"Type": "Fail", "Error": "{% $states.input.Error %}", "Cause": "{% $states.input.Cause %}"},
            **JSONATA,
        ),
        {"Error": "Dynamic", "Cause": "from the input"},
        error="Dynamic",
        cause="from the input",
    ),
    Case(
        "Succeed Output becomes the state output (ASL spec, Succeed State)",
        single({"Type": "Succeed", "Output": "{% $states.input.a %}"}, **JSONATA),
        {"a": {"b": 1}},
        {"b": 1},
    ),
    Case(
        "$partition splits an array in chunks, the last may be smaller (JSONata page, JSONata functions)",
        output("{% $partition([1,2,3,4,5,6,7,8,9], 4) %}"),
        {},
        [[1, 2, 3, 4], [5, 6, 7, 8], [9]],
    ),
    Case(
        "$range(0, 10, 2) includes its end: [0,2,4,6,8,10] (JSONata page, JSONata functions)",
        output("{% $range(0, 10, 2) %}"),
        {},
        [0, 2, 4, 6, 8, 10],
    ),
    Case(
        "$hash(value, 'SHA-256') is the hex digest (JSONata page, JSONata functions; SHA-256 per FIPS 180-4)",
        output({"hash": "{% $hash($states.input.content, 'SHA-256') %}"}),
        {"content": "input data"},
        {"hash": hashlib.sha256(b"input data").hexdigest()},
    ),
    Case(
        "$parse turns a JSON string into its value (JSONata page: $eval is not available, use $parse)",
        output("{% $parse($states.input.s) %}"),
        {"s": '{"a": [1, true, null]}'},
        {"a": [1, True, None]},
    ),
    Case(
        "An expression that returns nothing fails with "
        "States.QueryEvaluationError (ASL spec, JSONata errors)",
        output("{% $states.input.thisFieldDoesNotExist %}"),
        {"a": 1},
        error="States.QueryEvaluationError",
    ),
    Case(
        "A JSONata type error fails with "
        "States.QueryEvaluationError, {% $x + $y %} (ASL spec, JSONata errors)",
        chain(
            {"Type": "Pass", "Assign": {"x": "text", "y": 1}},
            {"Type": "Pass", "Output": "{% $x + $y %}"},
            **JSONATA,
        ),
        {},
        error="States.QueryEvaluationError",
    ),
    Case(
        "A result of a type the field refuses fails with "
        "States.QueryEvaluationError (ASL spec, JSONata errors)",
        single({"Type": "Wait", "Seconds": "{% $states.input.name %}"}, **JSONATA),
        {"name": "not a number"},
        error="States.QueryEvaluationError",
    ),
    Case(
        "States.QueryEvaluationError can be caught by a Catcher (ASL spec, JSONata Runtime Errors)",
        chain(
            {
                "Type": "Parallel",
                "Branches": [branch(PASS)],
                "Output": "{% $states.result.missing.field %}",
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "S1"}],
            },
            {"Type": "Pass", "Output": {"caught": "{% $states.input.Error %}"}},
            **JSONATA,
        ),
        {},
        {"caught": "States.QueryEvaluationError"},
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_jsonata(run: Runner, case: Case) -> None:
    check(run, case)


# CreateStateMachine in a process of its own: in the local cloud a refused JSONata
# definition leaves moto's parser in JSONata mode for every later definition of the process
# (see the second test), which would fail unrelated cases of the suite.
CREATE_IN_A_PROCESS_OF_ITS_OWN = """
import json, sys
from botocore.exceptions import ClientError
from localcloud import LocalCloud

outcomes = []
with LocalCloud(time_scale=0.01) as cloud:
    sfn = cloud.client("stepfunctions")
    for i, definition in enumerate(json.loads(sys.argv[1])):
        try:
            sfn.create_state_machine(name=f"isolated-{i}", definition=json.dumps(definition), roleArn=ROLE)
            outcomes.append("created")
        except ClientError as error:
            outcomes.append("refused:" + error.response["Error"]["Code"])
print(json.dumps(outcomes))
""".replace("ROLE", repr(ROLE))


def created_in_a_process_of_its_own(*definitions: dict[str, Any]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", CREATE_IN_A_PROCESS_OF_ITS_OWN, json.dumps(list(definitions))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


JSONPATH_IN_JSONATA = single(
    {"Type": "Pass", "QueryLanguage": "JSONPath", "Parameters": {"a.$": "$.a"}}, **JSONATA
)


def test_a_jsonpath_state_in_a_jsonata_machine_is_refused() -> None:
    """A top-level JSONata machine cannot hold JSONPath states (developer guide, State machine structure)."""
    assert created_in_a_process_of_its_own(JSONPATH_IN_JSONATA) == ["refused:InvalidDefinition"]


def test_a_refused_definition_does_not_change_how_the_next_one_is_validated() -> None:
    """CreateStateMachine validates the definition it is given: after a refusal, a JSONPath one is created."""
    jsonpath = single({"Type": "Pass", "Parameters": {"a.$": "$.a"}})
    outcomes = created_in_a_process_of_its_own(JSONPATH_IN_JSONATA, jsonpath)
    assert outcomes[0].startswith("refused:") and outcomes[1] == "created", outcomes


def test_choice_condition_first_true_rule_wins_with_its_output(run: Runner) -> None:
    """JSONata Choice: the first Condition that is true wins; its Output is the state output (ASL spec)."""
    definition = {
        **JSONATA,
        "StartAt": "Dispatch",
        "States": {
            "Dispatch": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $states.input.type != 'Private' %}", "Next": "Public"},
                    {
                        "Condition": "{% $states.input.rating >= $states.input.auditThreshold %}",
                        "Output": {"excess": "{% $states.input.rating - $states.input.auditThreshold %}"},
                        "Next": "StartAudit",
                    },
                    {"Condition": True, "Next": "Public"},
                ],
                "Default": "RecordEvent",
                "Output": {"default": True},
            },
            "Public": {"Type": "Pass", "Output": {"went": "Public"}, "End": True},
            "StartAudit": {"Type": "Pass", "End": True},
            "RecordEvent": {"Type": "Pass", "End": True},
        },
    }
    machine = run.create(definition)
    audit = run.finish(run.start(machine, {"type": "Private", "rating": 9, "auditThreshold": 5}))
    public = run.finish(run.start(machine, {"type": "Public", "rating": 9, "auditThreshold": 5}))
    assert (audit.status, audit.output) == ("SUCCEEDED", {"excess": 4}), audit.summary()
    assert (public.status, public.output) == ("SUCCEEDED", {"went": "Public"}), public.summary()


def test_choice_default_takes_the_state_output(run: Runner) -> None:
    """JSONata Choice: no Condition true, the top-level Output goes to the Default state (ASL spec)."""
    definition = {
        **JSONATA,
        "StartAt": "Dispatch",
        "States": {
            "Dispatch": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n > 10 %}", "Next": "Big"}],
                "Default": "Small",
                "Output": {"small": "{% $states.input.n %}"},
            },
            "Big": {"Type": "Pass", "Output": "big", "End": True},
            "Small": {"Type": "Pass", "End": True},
        },
    }
    result = run(definition, {"n": 3})
    assert (result.status, result.output) == ("SUCCEEDED", {"small": 3}), result.summary()


def test_random_with_a_seed_is_repeatable(run: Runner) -> None:
    """$random(seed): the same seed gives the same number, in [0, 1) (JSONata page, JSONata functions)."""
    definition = output({"a": "{% $random(42) %}", "b": "{% $random(42) %}", "plain": "{% $random() %}"})
    first, second = run(definition, {}), run(definition, {})
    assert first.status == second.status == "SUCCEEDED", first.summary()
    assert first.output["a"] == first.output["b"] == second.output["a"]
    assert all(0 <= value < 1 for value in (first.output["a"], first.output["plain"]))


def test_uuid_is_a_version_4_uuid(run: Runner) -> None:
    """$uuid() returns a version 4 UUID (JSONata page, JSONata functions)."""
    result = run(output({"id": "{% $uuid() %}"}), {})
    assert result.status == "SUCCEEDED", result.summary()
    assert uuid.UUID(result.output["id"]).version == 4


def test_eval_is_not_available(run: Runner) -> None:
    """$eval is not available in Step Functions' JSONata (JSONata page, Supported JSONata version)."""
    run.refused_or_failed(output("{% $eval('1 + 1') %}"), {})
