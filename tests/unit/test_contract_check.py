"""The contract check reads every flow against the step contracts, and catches mis-wiring."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aiflows.flows import flows
from infra.contract_check import check_all, check_definition

INTAKE = flows()["document_intake"].woven()  # what deploys: the contract check reads this


def classify_state(definition: dict[str, Any]) -> dict[str, Any]:
    return definition["States"]["Classify"]


def test_every_flow_in_statemachines_matches_its_contracts() -> None:
    assert flows()
    assert check_all() == []


def test_a_missing_required_field_is_caught() -> None:
    broken = copy.deepcopy(INTAKE)
    del classify_state(broken)["Parameters"]["Payload"]["document.$"]
    assert check_definition(broken, "intake") == [
        "intake: Classify: Payload misses 'document', required by ClassifyInput"
    ]


def test_a_field_the_contract_does_not_take_is_caught() -> None:
    broken = copy.deepcopy(INTAKE)
    classify_state(broken)["Parameters"]["Payload"]["doc.$"] = "$.detail"
    assert check_definition(broken, "intake") == [
        "intake: Classify: Payload passes 'doc', which ClassifyInput does not take"
    ]


def test_reading_a_field_the_output_does_not_promise_is_caught() -> None:
    broken = copy.deepcopy(INTAKE)
    classify_state(broken)["ResultSelector"]["label.$"] = "$.Payload.lable"
    classify_state(broken)["ResultSelector"]["cost.$"] = "$.Payload.model.price"
    assert check_definition(broken, "intake") == [
        "intake: Classify: reads $.Payload.lable, which ClassifyOutput does not promise",
        "intake: Classify: reads $.Payload.model.price, which ClassifyOutput does not promise",
    ]


def test_nested_states_are_checked_too() -> None:
    parallel = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {"StartAt": "Classify", "States": {"Classify": classify_state(copy.deepcopy(INTAKE))}}
                ],
            }
        },
    }
    del parallel["States"]["Both"]["Branches"][0]["States"]["Classify"]["Parameters"]["Payload"]["document.$"]
    assert check_definition(parallel, "p") == [
        "p: Both/Classify: Payload misses 'document', required by ClassifyInput"
    ]


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        (
            "arn:aws:lambda:us-east-1:1:function:x",
            "FunctionName must be a capability's ${<Capability>Function}",
        ),
        ("${TranslateFunction}", "${TranslateFunction} is no capability's function"),
    ],
)
def test_a_task_whose_function_is_unknown_is_caught(function: str, problem: str) -> None:
    broken = copy.deepcopy(INTAKE)
    classify_state(broken)["Parameters"]["FunctionName"] = function
    (found,) = check_definition(broken, "intake")
    assert found.startswith(f"intake: Classify: {problem}")


def test_passing_a_whole_state_is_refused() -> None:
    broken = copy.deepcopy(INTAKE)
    parameters = classify_state(broken)["Parameters"]
    del parameters["Payload"]
    parameters["Payload.$"] = "$"
    assert check_definition(broken, "intake") == [
        "intake: Classify: passes a whole state (Payload.$); name the fields it passes"
    ]


# JSONata: Arguments.Payload keys as they are passed, {% %} values as passed fields

JSONATA_CLASSIFY: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Arguments": {
        "FunctionName": "${ClassifyFunction}",
        "Payload": {
            "correlation_id": "{% $states.context.Execution.Input.id %}",
            "flow": "intake",
            "document": "{% $states.input.detail %}",
        },
    },
    "Output": {"label": "{% $states.result.Payload.label %}"},
    "Assign": {"evidence": "{% $states.result.Payload.evidence[0] %}"},
    "End": True,
}


def jsonata(state: dict[str, Any], machine: str | None = "JSONata") -> dict[str, Any]:
    definition: dict[str, Any] = {"StartAt": "Classify", "States": {"Classify": copy.deepcopy(state)}}
    if machine:
        definition["QueryLanguage"] = machine
    return definition


def test_a_jsonata_task_that_matches_its_contracts_passes() -> None:
    assert check_definition(jsonata(JSONATA_CLASSIFY), "intake") == []
    # as does the same state, JSONata on its own, in a JSONPath machine
    assert (
        check_definition(jsonata({**JSONATA_CLASSIFY, "QueryLanguage": "JSONata"}, "JSONPath"), "intake")
        == []
    )


def test_a_jsonata_payload_is_checked_by_its_keys() -> None:
    broken = jsonata(JSONATA_CLASSIFY)
    payload = classify_state(broken)["Arguments"]["Payload"]
    del payload["document"]
    payload["doc"] = "{% $states.input.detail %}"
    assert check_definition(broken, "intake") == [
        "intake: Classify: Payload misses 'document', required by ClassifyInput",
        "intake: Classify: Payload passes 'doc', which ClassifyInput does not take",
    ]


def test_a_jsonata_read_of_a_field_the_output_does_not_promise_is_caught() -> None:
    broken = jsonata(JSONATA_CLASSIFY)
    classify_state(broken)["Output"] = {"label": "{% $states.result.Payload.lable & '' %}"}
    classify_state(broken)["Assign"] = {"cost": "{% $states.result.Payload.model.price %}"}
    assert check_definition(broken, "intake") == [
        "intake: Classify: reads $states.result.Payload.lable, which ClassifyOutput does not promise",
        "intake: Classify: reads $states.result.Payload.model.price, which ClassifyOutput does not promise",
    ]


def test_a_jsonata_payload_of_one_expression_is_refused() -> None:
    broken = jsonata(JSONATA_CLASSIFY)
    classify_state(broken)["Arguments"]["Payload"] = "{% $states.input %}"
    assert check_definition(broken, "intake") == [
        "intake: Classify: passes one {% %} expression as its Payload; name the fields it passes, "
        "each with its own expression"
    ]


def test_jsonpath_fields_in_a_jsonata_state_are_reported_not_checked_against_contracts() -> None:
    # Given the JSONPath Classify of document_intake, in a JSONata machine
    broken = {**copy.deepcopy(INTAKE), "QueryLanguage": "JSONata"}
    broken["States"] = {"Classify": classify_state(broken)}
    broken["StartAt"] = "Classify"
    (parameters, result_selector, result_path, catch) = check_definition(broken, "intake")
    assert parameters == (
        "intake: state Classify is JSONata (the machine's QueryLanguage), but has Parameters, a JSONPath "
        "field: write Arguments: its keys without .$, its values literal or {% %} expressions"
    )
    assert "has ResultSelector" in result_selector and "has ResultPath" in result_path
    assert "a Catch has ResultPath" in catch
