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
