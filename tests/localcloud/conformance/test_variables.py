"""Workflow variables: Assign in each state that has it, references, semantics and scope.

Sources: the developer guide page "Passing data between states with variables"
("variables page"), the ASL spec's "State Machine Variables" and "Using Assign", and the
API reference of StateExitedEventDetails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.localcloud.conformance.conftest import (
    JSONATA,
    PASS,
    Case,
    Runner,
    branch,
    cases,
    chain,
    check,
    fail,
    single,
)


def read(**fields: str) -> dict[str, Any]:
    """A JSONPath Pass whose output reads variables: read(x="$x") gives {"x": <value of x>}."""
    return {"Type": "Pass", "Parameters": {f"{name}.$": path for name, path in fields.items()}}


CASES = cases(
    Case(
        "Pass Assign, then a later state reads the variable from JSONPath, x.$: $x (variables page)",
        chain(
            {"Type": "Pass", "Assign": {"productName": "product1", "count": 42, "available": True}},
            PASS,
            read(p="$productName", c="$count", a="$available"),
        ),
        {},
        {"p": "product1", "c": 42, "a": True},
    ),
    Case(
        "A JSONata expression reads variables by $name: 2006 Infiniti G35 (ASL spec, Assigning variables)",
        chain(
            {"Type": "Pass", "Assign": {"make": "Infiniti", "model": "G35", "year": 2006}},
            {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $year & ' ' & $make & ' ' & $model %}",
            },
            {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"car": "{% $states.input %}"}},
        ),
        {},
        {"car": "2006 Infiniti G35"},
    ),
    Case(
        "Assign reads every variable as it was on state entry: x=42, "
        "newOrOld=5 (ASL spec, Assigning variables)",
        chain(
            {"Type": "Pass", "Assign": {"x": 5}},
            {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"x": 42, "newOrOld": "{% $x %}"}},
            read(x="$x", newOrOld="$newOrOld"),
        ),
        {},
        {"x": 42, "newOrOld": 5},
    ),
    Case(
        "Two Assigns in one state swap two variables, each reading the values from state entry (ASL spec)",
        chain(
            {"Type": "Pass", "Assign": {"a": 1, "b": 2}},
            {"Type": "Pass", "Assign": {"a.$": "$b", "b.$": "$a"}},
            read(a="$a", b="$b"),
        ),
        {},
        {"a": 2, "b": 1},
    ),
    Case(
        "A variable assigned in a state is not visible in that state itself, only in the next (ASL spec)",
        chain(
            {"Type": "Pass", "Assign": {"v": "old"}},
            {"Type": "Pass", "Assign": {"v": "new"}, "Parameters": {"seen.$": "$v"}},
        ),
        {},
        {"seen": "old"},
    ),
    Case(
        "In a JSONPath Pass's Assign, $ is the result from Result (ASL spec, Using Assign)",
        chain(
            {"Type": "Pass", "Result": {"v": 7}, "ResultPath": "$.r", "Assign": {"got.$": "$.v"}},
            read(got="$got"),
        ),
        {"a": 1},
        {"got": 7},
    ),
    Case(
        "In a JSONPath Parallel's top-level Assign, $ is the result (ASL spec, Using Assign)",
        chain(
            {
                "Type": "Parallel",
                "Branches": [
                    branch({"Type": "Pass", "Result": "one"}),
                    branch({"Type": "Pass", "Result": "two"}),
                ],
                "ResultPath": None,
                "Assign": {"second.$": "$[1]"},
            },
            read(second="$second"),
        ),
        {},
        {"second": "two"},
    ),
    Case(
        "Map Assign reads $states.result, Output the input (ASL spec, JSONata Map State example)",
        chain(
            {
                "Type": "Map",
                "Items": "{% $states.input.shipped %}",
                "ItemProcessor": branch(PASS),
                "Assign": {"shipped": "{% $states.result %}"},
                "Output": {"numItemsProcessed": "{% $count($states.input.shipped) %}"},
            },
            {
                "Type": "Pass",
                "Output": {"n": "{% $states.input.numItemsProcessed %}", "shipped": "{% $shipped %}"},
            },
            **JSONATA,
        ),
        {"shipped": [{"p": 1}, {"p": 2}]},
        {"n": 2, "shipped": [{"p": 1}, {"p": 2}]},
    ),
    Case(
        "In a Wait's Assign, $ is the effective input after InputPath (ASL spec, Using Assign)",
        chain(
            {"Type": "Wait", "Seconds": 1, "InputPath": "$.inner", "Assign": {"got.$": "$.v"}},
            read(got="$got"),
        ),
        {"inner": {"v": "w"}},
        {"got": "w"},
    ),
    Case(
        "A chosen Choice Rule's Assign runs: range is twenties (ASL spec, JSONPath Choice Rules example)",
        {
            "StartAt": "DispatchEvent",
            "States": {
                "DispatchEvent": {
                    "Type": "Choice",
                    "Choices": [
                        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                        {
                            "And": [
                                {"Variable": "$.value", "IsPresent": True},
                                {"Variable": "$.value", "IsNumeric": True},
                                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                                {"Variable": "$.value", "NumericLessThan": 30},
                            ],
                            "Assign": {"range": "twenties"},
                            "Next": "ValueInTwenties",
                        },
                    ],
                    "Default": "RecordEvent",
                    "Assign": {"range": "default"},
                },
                "Public": {"Type": "Pass", "End": True},
                "ValueInTwenties": {**read(range="$range"), "End": True},
                "RecordEvent": {**read(range="$range"), "End": True},
            },
        },
        {"type": "Private", "value": 22},
        {"range": "twenties"},
    ),
    Case(
        "No Choice Rule matches: the state's top-level Assign runs, "
        "range is default (ASL spec, Choice State)",
        {
            "StartAt": "DispatchEvent",
            "States": {
                "DispatchEvent": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": "$.value",
                            "NumericGreaterThan": 100,
                            "Assign": {"range": "big"},
                            "Next": "Big",
                        }
                    ],
                    "Default": "RecordEvent",
                    "Assign": {"range": "default"},
                },
                "Big": {"Type": "Pass", "End": True},
                "RecordEvent": {**read(range="$range"), "End": True},
            },
        },
        {"value": 5},
        {"range": "default"},
    ),
    Case(
        "On an error, the matching Catcher's Assign runs ($ is the "
        "Error Output), not the top-level one (ASL spec)",
        chain(
            {"Type": "Pass", "Assign": {"top": "before"}},
            {
                "Type": "Parallel",
                "Branches": [branch(fail("Oops", "bad"))],
                "Assign": {"top": "after"},
                "Catch": [{"ErrorEquals": ["Oops"], "Assign": {"err.$": "$.Error"}, "Next": "S2"}],
            },
            read(top="$top", err="$err"),
        ),
        {},
        {"top": "before", "err": "Oops"},
    ),
    Case(
        "Map: inner states read outer variables; the Map's own Assign "
        "sets outer ones (ASL spec, Variable Scope)",
        {
            **JSONATA,
            "StartAt": "Get Greeting",
            "States": {
                "Get Greeting": {"Type": "Pass", "Assign": {"outer": "hello"}, "Next": "Greet Everyone"},
                "Greet Everyone": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "Begin",
                        "States": {
                            "Begin": {
                                "Type": "Pass",
                                "Assign": {"inner": "world", "hi": "{% $outer %}"},
                                "Next": "End",
                            },
                            "End": {"Type": "Succeed", "Output": "{% $hi %}"},
                        },
                    },
                    "Assign": {"outer": 2},
                    "Output": {"greetings": "{% $states.result %}"},
                    "Next": "Goodbye",
                },
                "Goodbye": {
                    "Type": "Succeed",
                    "Output": {"outer": "{% $outer %}", "in": "{% $states.input %}"},
                },
            },
        },
        ["x", "y"],
        {"outer": 2, "in": {"greetings": ["hello", "hello"]}},
    ),
    Case(
        "Parallel: a branch's states read outer variables (ASL spec, Variable Scope)",
        chain(
            {"Type": "Pass", "Assign": {"greet": "hi"}},
            {"Type": "Parallel", "Branches": [branch(read(g="$greet")), branch(read(g="$greet"))]},
        ),
        {},
        [{"g": "hi"}, {"g": "hi"}],
    ),
    Case(
        "Each Map iteration has its own values of its variables (ASL spec, Variable Scope)",
        single(
            {
                "Type": "Map",
                "ItemProcessor": branch(
                    {"Type": "Pass", "Assign": {"mine.$": "$"}},
                    {"Type": "Wait", "Seconds": 1},
                    read(mine="$mine"),
                ),
            }
        ),
        [1, 2, 3],
        [{"mine": 1}, {"mine": 2}, {"mine": 3}],
    ),
)


@pytest.mark.parametrize("case", CASES)
def test_variables(run: Runner, case: Case) -> None:
    check(run, case)


def test_outer_states_cannot_see_a_map_iterations_variables(run: Runner) -> None:
    """When a Map iteration completes, its variables go out of scope (ASL spec, Variable Scope)."""
    definition = chain(
        {"Type": "Map", "ItemProcessor": branch({"Type": "Pass", "Assign": {"inner": "world"}})},
        {"Type": "Pass", "Output": "{% $inner %}"},
        **JSONATA,
    )
    run.refused_or_failed(definition, ["x"])


def test_inner_states_cannot_assign_an_outer_variable(run: Runner) -> None:
    """Inner-scope states MUST NOT assign a variable of an outer scope's name (ASL spec, Variable Scope)."""
    definition = chain(
        {"Type": "Pass", "Assign": {"outer": 1}},
        {"Type": "Map", "ItemProcessor": branch({"Type": "Pass", "Assign": {"outer": 2}})},
        **JSONATA,
    )
    run.refused_or_failed(definition, ["x"])


def test_the_states_variable_is_reserved(run: Runner) -> None:
    """A state MUST NOT assign a value to the reserved variable states (ASL spec, State Machine Variables)."""
    run.refused_or_failed(single({"Type": "Pass", "Assign": {"states": 1}}), {})


def test_assigned_variables_are_in_the_state_exited_event(run: Runner) -> None:
    """StateExitedEventDetails.assignedVariables: each variable's value as serialized JSON (API reference)."""
    result = run(chain({"Type": "Pass", "Assign": {"x": 42, "s": "hi", "o": {"a": [1, None]}}}, PASS), {})
    assert result.status == "SUCCEEDED", result.summary()
    assigned = result.exited("S0").get("assignedVariables")
    assert isinstance(assigned, dict), result.exited("S0")
    assert all(isinstance(value, str) for value in assigned.values()), assigned
    assert {name: json.loads(value) for name, value in assigned.items()} == {
        "x": 42,
        "s": "hi",
        "o": {"a": [1, None]},
    }
    assert "assignedVariables" not in result.exited("S1") or result.exited("S1")["assignedVariables"] == {}


def test_a_variable_over_256_kib_fails_the_execution(run: Runner) -> None:
    """A state stores up to 256 KiB in a variable (variables page, Conceptual overview)."""
    half = "x" * 150_000
    definition = chain(
        {"Type": "Pass", "Assign": {"big": "{% $states.input.s & $states.input.s %}"}, "Output": {}},
        {"Type": "Pass", "Output": {"n": "{% $length($big) %}"}},
        **JSONATA,
    )
    result = run(definition, {"s": half})
    assert result.status == "FAILED", result.summary()
