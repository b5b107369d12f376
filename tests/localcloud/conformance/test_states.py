"""Every state type, JSONPath input/output processing and Choice rules, as AWS documents them.

Sources: the Amazon States Language specification (states-language.net, "ASL spec"), and the
Step Functions developer guide pages "Manipulate parameters in Step Functions workflows",
"Specifying state output using ResultPath", "Accessing execution data from the Context
object" and the page of each state type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.localcloud.conformance.conftest import PASS, Case, Runner, branch, cases, chain, check, single

SHIPPED = {
    "ship_date": "2016-03-14T01:59:00Z",
    "detail": {
        "partner": "UQS",
        "shipped": [
            {"prod": "R31", "dest": 9511, "quantity": 1344},
            {"prod": "S39", "dest": 9511, "quantity": 40},
        ],
    },
}

ITEMS = {"items": [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": "y"}]}


def reply(path: str = "$") -> dict[str, Any]:
    """A Pass whose output is what ``path`` selects of its input."""
    return {"Type": "Pass", "InputPath": path}


INPUT_OUTPUT = cases(
    Case(
        "Pass: without Result, the output is the input (ASL spec, Pass State)",
        single(PASS),
        {"georefOf": "Home"},
        {"georefOf": "Home"},
    ),
    Case(
        "Pass: Result is the output of a virtual task, placed by ResultPath (ASL spec, Pass State)",
        single(
            {
                "Type": "Pass",
                "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                "ResultPath": "$.coords",
            }
        ),
        {"georefOf": "Home"},
        {"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}},
    ),
    Case(
        "Pass: Result without ResultPath replaces the whole input (ASL spec, Defaults: ResultPath is $)",
        single({"Type": "Pass", "Result": "Hi!"}),
        {"a": 1},
        "Hi!",
    ),
    Case(
        "Parameters: static values stay, fields ending in .$ take "
        "their Path's value (ASL spec, Payload Template)",
        single(
            {
                "Type": "Pass",
                "Parameters": {"flagged": True, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"}},
            }
        ),
        {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]},
        {"flagged": True, "parts": {"first": 0, "last3": [30, 40, 50]}},
    ),
    Case(
        "InputPath is applied first, then Parameters (developer guide, Manipulate parameters)",
        single({"Type": "Pass", "InputPath": "$.dataset2", "Parameters": {"picked.$": "$.val2"}}),
        {"dataset1": {"val2": 2}, "dataset2": {"val1": "a", "val2": "b"}},
        {"picked": "b"},
    ),
    Case(
        "InputPath selects a portion of the state input (developer guide, InputPath example)",
        single(reply("$.dataset2")),
        {
            "comment": "Example for InputPath.",
            "dataset1": {"val1": 1},
            "dataset2": {"val1": "a", "val2": "b"},
        },
        {"val1": "a", "val2": "b"},
    ),
    Case(
        "A Path yielding several values gives an array of them: $.a[0,1] (ASL spec, JSONPath Concepts)",
        single(reply("$.a[0,1]")),
        {"a": [1, 2, 3, 4]},
        [1, 2],
    ),
    Case(
        "A slice $.a[0:2] selects a sequence of values (developer guide, InputPath note)",
        single(reply("$.a[0:2]")),
        {"a": [1, 2, 3, 4]},
        [1, 2],
    ),
    Case(
        "InputPath null discards the raw input: the effective input is {} (ASL spec, InputPath)",
        single({"Type": "Pass", "InputPath": None}),
        {"a": 1},
        {},
    ),
    Case(
        "ResultPath null discards the result: the raw input is the output (ASL spec, ResultPath)",
        single({"Type": "Pass", "Result": "Hello, Step Functions!", "ResultPath": None}),
        {"comment": "This is a test", "who": "Step Functions"},
        {"comment": "This is a test", "who": "Step Functions"},
    ),
    Case(
        "ResultPath on an existing field overwrites it (ASL spec, $.master.detail example)",
        single({"Type": "Pass", "Result": 6, "ResultPath": "$.master.detail"}),
        {"master": {"detail": [1, 2, 3]}},
        {"master": {"detail": 6}},
    ),
    Case(
        "ResultPath creates the intervening fields it needs (ASL spec, $.master.result.sum example)",
        single({"Type": "Pass", "Result": 6, "ResultPath": "$.master.result.sum"}),
        {"master": {"detail": [1, 2, 3]}},
        {"master": {"detail": [1, 2, 3], "result": {"sum": 6}}},
    ),
    Case(
        "ResultPath places the result relative to the raw input, not InputPath's selection (ASL spec)",
        single(
            {"Type": "Pass", "InputPath": "$.numbers", "Parameters": {"v.$": "$.val1"}, "ResultPath": "$.sum"}
        ),
        {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}},
        {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": {"v": 3}},
    ),
    Case(
        "OutputPath is applied to the output after ResultPath (ASL spec, OutputPath)",
        single({"Type": "Pass", "Result": {"n": 7}, "ResultPath": "$.r", "OutputPath": "$.r.n"}),
        {"a": 1},
        7,
    ),
    Case(
        "OutputPath null makes the effective output {} (ASL spec, OutputPath)",
        single({"Type": "Pass", "Result": 1, "OutputPath": None}),
        {"a": 1},
        {},
    ),
    Case(
        "Parameters: a value beginning with $$ is a Path on the Context object (ASL spec, Payload Template)",
        single({"Type": "Pass", "Parameters": {"state.$": "$$.State.Name", "input.$": "$$.Execution.Input"}}),
        {"a": 1},
        {"state": "S", "input": {"a": 1}},
    ),
    Case(
        "JSONPath filter with && keeps only the items matching both "
        "(ASL spec: the syntax is Jayway JsonPath's)",
        single({"Type": "Pass", "Parameters": {"picked.$": "$.items[?(@.a > 1 && @.b == 'x')]"}}),
        ITEMS,
        {"picked": [{"a": 2, "b": "x"}]},
    ),
    Case(
        "JSONPath filter with || keeps the items matching either (ASL spec: the syntax is Jayway JsonPath's)",
        single({"Type": "Pass", "Parameters": {"picked.$": "$.items[?(@.a == 1 || @.b == 'y')]"}}),
        ITEMS,
        {"picked": [{"a": 1, "b": "x"}, {"a": 3, "b": "y"}]},
    ),
    Case(
        "Parallel: InputPath, Parameters, ResultSelector, then "
        "ResultPath on the raw input (ASL spec, filters)",
        single(
            {
                "Type": "Parallel",
                "InputPath": "$.data",
                "Parameters": {"v.$": "$.x"},
                "Branches": [branch(PASS), branch({"Type": "Pass", "Parameters": {"w.$": "$.v"}})],
                "ResultSelector": {"first.$": "$[0].v", "second.$": "$[1].w"},
                "ResultPath": "$.res",
            }
        ),
        {"keep": 1, "data": {"x": 5}},
        {"keep": 1, "data": {"x": 5}, "res": {"first": 5, "second": 5}},
    ),
    Case(
        "Parallel: OutputPath selects from the output after "
        "ResultSelector and ResultPath (ASL spec, filters)",
        single(
            {
                "Type": "Parallel",
                "Branches": [branch({"Type": "Pass", "Result": {"a": 1}})],
                "ResultSelector": {"only.$": "$[0]"},
                "ResultPath": "$.res",
                "OutputPath": "$.res.only",
            }
        ),
        {"keep": 1},
        {"a": 1},
    ),
)


@pytest.mark.parametrize("case", INPUT_OUTPUT)
def test_input_and_output_processing(run: Runner, case: Case) -> None:
    check(run, case)


def test_context_object_names_the_execution_and_the_state_machine(run: Runner) -> None:
    """Context object: Execution.Id and .Name, StateMachine.Id and .Name (developer guide, Context object)."""
    definition = single(
        {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$$.Execution.Id",
                "name.$": "$$.Execution.Name",
                "machine.$": "$$.StateMachine.Id",
                "machineName.$": "$$.StateMachine.Name",
            },
        }
    )
    machine = run.create(definition)
    result = run.finish(run.start(machine, {}, name="ctx-run"))
    assert result.status == "SUCCEEDED", result.summary()
    assert result.output == {
        "id": result.arn,
        "name": "ctx-run",
        "machine": machine,
        "machineName": machine.rsplit(":", 1)[1],
    }


def test_context_object_times_are_iso_8601_strings(run: Runner) -> None:
    """Context object: Execution.StartTime and State.EnteredTime are "Format: ISO 8601" (developer guide)."""
    definition = single(
        {
            "Type": "Pass",
            "Parameters": {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"},
        }
    )
    result = run(definition, {})
    assert result.status == "SUCCEEDED", result.summary()
    for stamp in ("entered", "started"):
        assert isinstance(result.output[stamp], str), result.output
        datetime.fromisoformat(result.output[stamp].replace("Z", "+00:00"))


def to(state: str) -> dict[str, Any]:
    return {"Type": "Pass", "Result": {"went": state}, "End": True}


def choice(rules: list[dict[str, Any]], default: bool = True, **extra: Any) -> dict[str, Any]:
    """A Choice state S whose rules go to states named by their index; the Default goes to "Default"."""
    states: dict[str, Any] = {
        "S": {
            "Type": "Choice",
            "Choices": [{**rule, "Next": f"R{i}"} for i, rule in enumerate(rules)],
            **({"Default": "Default"} if default else {}),
            **extra,
        }
    }
    for i in range(len(rules)):
        states[f"R{i}"] = to(f"R{i}")
    if default:
        states["Default"] = to("Default")
    return {"StartAt": "S", "States": states}


def rule(variable: str, **test: Any) -> dict[str, Any]:
    return {"Variable": variable, **test}


DISPATCH = [
    {"Not": rule("$.type", StringEquals="Private")},
    {
        "And": [
            rule("$.value", IsPresent=True),
            rule("$.value", IsNumeric=True),
            rule("$.value", NumericGreaterThanEquals=20),
            rule("$.value", NumericLessThan=30),
        ]
    },
    rule("$.rating", NumericGreaterThanPath="$.auditThreshold"),
]

CHOICES = cases(
    Case(
        "Choice: the first rule that matches wins, in order (ASL spec, JSONPath Choice Rules)",
        choice([rule("$.n", NumericGreaterThan=1), rule("$.n", NumericGreaterThan=2)]),
        {"n": 5},
        {"went": "R0"},
    ),
    Case(
        "Choice: no rule matches, so the Default state runs (ASL spec, Choice State)",
        choice([rule("$.n", NumericEquals=1)]),
        {"n": 5},
        {"went": "Default"},
    ),
    Case(
        "Choice: no match and no Default fails with States.NoChoiceMatched (ASL spec, Choice State)",
        choice([rule("$.n", NumericEquals=1)], default=False),
        {"n": 5},
        error="States.NoChoiceMatched",
    ),
    Case(
        "Choice: Not inverts its rule, type != Private goes to Public (ASL spec, DispatchEvent example)",
        choice(DISPATCH),
        {"type": "Public", "value": 22},
        {"went": "R0"},
    ),
    Case(
        "Choice: And of IsPresent, IsNumeric and two bounds, value 22 (ASL spec, DispatchEvent example)",
        choice(DISPATCH),
        {"type": "Private", "value": 22},
        {"went": "R1"},
    ),
    Case(
        "Choice: NumericGreaterThanPath compares two fields of the input (ASL spec, DispatchEvent example)",
        choice(DISPATCH),
        {"type": "Private", "value": 5, "rating": 9, "auditThreshold": 3},
        {"went": "R2"},
    ),
    Case(
        "Choice: Or is true when any of its rules is (ASL spec, Boolean expression)",
        choice([{"Or": [rule("$.a", StringEquals="no"), rule("$.b", BooleanEquals=True)]}]),
        {"a": "yes", "b": True},
        {"went": "R0"},
    ),
    Case(
        "Choice: IsPresent false on a missing field, without an error (ASL spec, IsPresent note)",
        choice([rule("$.missing", IsPresent=False)]),
        {"a": 1},
        {"went": "R0"},
    ),
    Case(
        "Choice: IsNull is true for the JSON literal null (ASL spec, IsNull note)",
        choice([rule("$.a", IsNull=True)]),
        {"a": None},
        {"went": "R0"},
    ),
    Case(
        "Choice: IsString, IsNumeric and IsBoolean test the value's type (ASL spec, Data-test expression)",
        choice(
            [
                {
                    "And": [
                        rule("$.s", IsString=True),
                        rule("$.n", IsNumeric=True),
                        rule("$.b", IsBoolean=True),
                        rule("$.n", IsString=False),
                    ]
                }
            ]
        ),
        {"s": "text", "n": 1.5, "b": False},
        {"went": "R0"},
    ),
    Case(
        "Choice: IsTimestamp is true for an RFC3339 timestamp with T and Z (ASL spec, Timestamps)",
        choice([rule("$.t", IsTimestamp=True)]),
        {"t": "2016-03-14T01:59:00Z"},
        {"went": "R0"},
    ),
    Case(
        "Choice: a comparison of values not both of its type returns false (ASL spec, Data-test expression)",
        choice([rule("$.n", NumericEquals=1)]),
        {"n": "1"},
        {"went": "Default"},
    ),
    Case(
        "Choice: StringMatches * matches zero or more characters, foo*.log matches foo23.log (ASL spec)",
        choice([rule("$.f", StringMatches="foo*.log")]),
        {"f": "foo23.log"},
        {"went": "R0"},
    ),
    Case(
        "Choice: StringMatches \\\\* is a literal star, not a wildcard (ASL spec, StringMatches escapes)",
        choice([rule("$.f", StringMatches="a\\*b")]),
        {"f": "axxb"},
        {"went": "Default"},
    ),
    Case(
        "Choice: StringMatches \\\\* matches a literal star (ASL spec, StringMatches escapes)",
        choice([rule("$.f", StringMatches="a\\*b")]),
        {"f": "a*b"},
        {"went": "R0"},
    ),
    Case(
        "Choice: TimestampLessThan compares two timestamps (ASL spec, comparison operators)",
        choice([rule("$.t", TimestampLessThan="2016-03-14T02:00:00Z")]),
        {"t": "2016-03-14T01:59:00Z"},
        {"went": "R0"},
    ),
    Case(
        "Choice: TimestampGreaterThanEqualsPath compares two fields (ASL spec, comparison operators)",
        choice([rule("$.t", TimestampGreaterThanEqualsPath="$.since")]),
        {"t": "2016-03-14T01:59:00Z", "since": "2016-03-14T01:59:00Z"},
        {"went": "R0"},
    ),
    Case(
        "Choice: StringLessThan compares character by character (ASL spec, String comparators)",
        choice([rule("$.s", StringLessThan="b")]),
        {"s": "abc"},
        {"went": "R0"},
    ),
    Case(
        "Choice: String comparators do no case folding (ASL spec, String comparators)",
        choice([rule("$.s", StringEquals="abc")]),
        {"s": "ABC"},
        {"went": "Default"},
    ),
)


@pytest.mark.parametrize("case", CHOICES)
def test_choice_rules(run: Runner, case: Case) -> None:
    check(run, case)


def test_choice_string_equals_path_reads_the_context_object(run: Runner) -> None:
    """Choice: StringEqualsPath may be a $$. Path, $$.Execution.Name (developer guide, Context object)."""
    definition = choice([rule("$.who", StringEqualsPath="$$.Execution.Name")])
    machine = run.create(definition)
    same = run.finish(run.start(machine, {"who": "run-ada"}, name="run-ada"))
    other = run.finish(run.start(machine, {"who": "someone-else"}, name="run-bob"))
    assert (same.status, same.output) == ("SUCCEEDED", {"went": "R0"}), same.summary()
    assert (other.status, other.output) == ("SUCCEEDED", {"went": "Default"}), other.summary()


WAIT_SUCCEED_FAIL = cases(
    Case(
        "Wait: Seconds delays, then the output is the input (ASL spec, Wait State)",
        single({"Type": "Wait", "Seconds": 1}),
        {"a": 1},
        {"a": 1},
    ),
    Case(
        "Wait: SecondsPath reads the seconds from the input (ASL spec, JSONPath Wait State)",
        single({"Type": "Wait", "SecondsPath": "$.s"}),
        {"s": 1},
        {"s": 1},
    ),
    Case(
        "Wait: a Timestamp in the past does not block (ASL spec, Wait State)",
        single({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z"}),
        {"a": 1},
        {"a": 1},
    ),
    Case(
        "Wait: TimestampPath reads the expiry time from the input (ASL spec, JSONPath Wait State)",
        single({"Type": "Wait", "TimestampPath": "$.expirydate"}),
        {"expirydate": "2016-03-14T01:59:00Z"},
        {"expirydate": "2016-03-14T01:59:00Z"},
    ),
    Case(
        "Wait: InputPath and OutputPath shape its output (ASL spec, state fields table)",
        single({"Type": "Wait", "Seconds": 1, "InputPath": "$.keep", "OutputPath": "$.x"}),
        {"keep": {"x": 3}, "drop": 1},
        3,
    ),
    Case(
        "Succeed: the output is the input, possibly modified by InputPath and OutputPath (ASL spec)",
        single({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}),
        {"a": {"b": 2}},
        2,
    ),
    Case(
        "Fail: Error and Cause become the execution's error and cause (ASL spec, Fail State)",
        single({"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}),
        {},
        error="ErrorA",
        cause="Kaiju attack",
    ),
    Case(
        "Fail: ErrorPath and CausePath read them from the input (ASL spec, JSONPath Fail State)",
        single({"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"}),
        {"Error": "Boom", "Cause": "read from the input"},
        error="Boom",
        cause="read from the input",
    ),
    Case(
        "Fail: CausePath may be an intrinsic returning a string, States.Format (developer guide, Fail)",
        single({"Type": "Fail", "Error": "Formatted", "CausePath": "States.Format('order {} failed', $.id)"}),
        {"id": 42},
        error="Formatted",
        cause="order 42 failed",
    ),
)


@pytest.mark.parametrize("case", WAIT_SUCCEED_FAIL)
def test_wait_succeed_and_fail(run: Runner, case: Case) -> None:
    check(run, case)


PARALLEL_MAP = cases(
    Case(
        "Parallel: the result is an array of the branches' outputs, in branch order (ASL spec, Parallel)",
        single(
            {
                "Type": "Parallel",
                "Branches": [
                    branch({"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($[0], $[1])"}}),
                    branch({"Type": "Pass", "InputPath": "$[1]"}),
                ],
            }
        ),
        [3, 2],
        [{"sum": 5}, 2],
    ),
    Case(
        "Parallel: a Succeed state merely ends its own branch (ASL spec, Parallel State)",
        single(
            {
                "Type": "Parallel",
                "Branches": [branch({"Type": "Succeed"}), branch({"Type": "Pass", "Result": "b"})],
            }
        ),
        {"a": 1},
        [{"a": 1}, "b"],
    ),
    Case(
        "Map: without ItemsPath the raw input is the items array; results keep its order (ASL spec, Map)",
        single({"Type": "Map", "ItemProcessor": branch({"Type": "Pass", "Parameters": {"v.$": "$"}})}),
        ["a", "b", "c"],
        [{"v": "a"}, {"v": "b"}, {"v": "c"}],
    ),
    Case(
        "Map: each iteration's ResultPath places its own result in its own item, however many run at "
        "once (ASL spec, ResultPath; Map: iterations run in parallel)",
        single(
            {
                "Type": "Map",
                "MaxConcurrency": 0,
                "ItemProcessor": branch(
                    {
                        "Type": "Pass",
                        "Parameters": {"double.$": "States.MathAdd($.n, $.n)"},
                        "ResultPath": "$.r.v",
                    }
                ),
            }
        ),
        [{"n": n} for n in range(12)],
        [{"n": n, "r": {"v": {"double": 2 * n}}} for n in range(12)],
    ),
    Case(
        "Map: ItemSelector reads $$.Map.Item.Index and $$.Map.Item.Value (ASL spec, Processing Items)",
        single(
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemSelector": {
                    "index.$": "$$.Map.Item.Index",
                    "value.$": "$$.Map.Item.Value",
                    "k.$": "$.k",
                },
                "ItemProcessor": branch(PASS),
            }
        ),
        {"xs": ["a", "b"], "k": 1},
        [{"index": 0, "value": "a", "k": 1}, {"index": 1, "value": "b", "k": 1}],
    ),
    Case(
        "Map: InputPath, ItemsPath, ItemSelector and ResultPath as in the shipping example (ASL spec, Map)",
        single(
            {
                "Type": "Map",
                "InputPath": "$.detail",
                "ItemsPath": "$.shipped",
                "MaxConcurrency": 0,
                "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.partner"},
                "ItemProcessor": branch(PASS),
                "ResultPath": "$.detail.shipped",
            }
        ),
        SHIPPED,
        {
            "ship_date": "2016-03-14T01:59:00Z",
            "detail": {
                "partner": "UQS",
                "shipped": [
                    {"parcel": {"prod": "R31", "dest": 9511, "quantity": 1344}, "courier": "UQS"},
                    {"parcel": {"prod": "S39", "dest": 9511, "quantity": 40}, "courier": "UQS"},
                ],
            },
        },
    ),
    Case(
        "Map: the deprecated Iterator and Parameters work as ItemProcessor and ItemSelector (ASL spec, Map)",
        single(
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "Parameters": {"value.$": "$$.Map.Item.Value"},
                "Iterator": branch(PASS),
            }
        ),
        {"xs": [1, 2]},
        [{"value": 1}, {"value": 2}],
    ),
    Case(
        "Map: MaxConcurrency 1 runs the items one by one, in order (ASL spec, Map State concurrency)",
        single(
            {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemProcessor": branch(
                    {"Type": "Wait", "Seconds": 1}, {"Type": "Pass", "Parameters": {"v.$": "$"}}
                ),
            }
        ),
        [3, 1, 2],
        [{"v": 3}, {"v": 1}, {"v": 2}],
    ),
    Case(
        "Map: an empty items array gives an empty result (ASL spec, Writing Results)",
        single({"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": branch(PASS), "ResultPath": "$.out"}),
        {"xs": []},
        {"xs": [], "out": []},
    ),
)


@pytest.mark.parametrize("case", PARALLEL_MAP)
def test_parallel_and_map(run: Runner, case: Case) -> None:
    check(run, case)


def test_states_run_in_order_through_next(run: Runner) -> None:
    """Transitions: each state's output is the next state's input, along Next (ASL spec, Transitions)."""
    result = run(
        chain(
            {"Type": "Pass", "Result": {"n": 1}},
            {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}},
            {"Type": "Wait", "Seconds": 1},
            {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}},
        ),
        {},
    )
    assert (result.status, result.output) == ("SUCCEEDED", {"n": 3}), result.summary()
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in result.events if "stateEnteredEventDetails" in e
    ]
    assert entered == ["S0", "S1", "S2", "S3"]
