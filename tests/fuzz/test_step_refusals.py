"""Every step's input contract, broken one place at a time: the step refuses it, naming the place.

The capabilities come from the registry, as in test_step_contracts.py. A mutation breaks
one place of a valid input (a required field missing, a null, a wrong JSON type, a string
or number past its bounds or outside its pattern or enum, a field the contract does not
know); the step must refuse it with ``InvalidInput`` whose message names that place and
stays short, before it reaches a model or a store. An input that is no JSON object is
refused naming ``<root>``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings

from aiflows.registry import capabilities
from aiflows_runtime.errors import InvalidInput
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, load_handler
from tests.fuzz.examples import FUZZ, count
from tests.fuzz.schemas import NOT_AN_OBJECT, Mutation, from_schema, mutations
from tests.fuzz.steps import REFINE, refused

pytestmark = pytest.mark.usefixtures("function_env")

CAPABILITIES = capabilities()
STEPS = sorted(name for name in CAPABILITIES if name != "worker")  # the worker: test_worker_contract.py
MUTATED = 80


@pytest.mark.parametrize("name", STEPS)
def test_a_broken_input_is_refused_naming_what_is_wrong(
    name: str, cloud: LocalCloud, context: Context
) -> None:
    info = CAPABILITIES[name]
    schema = info.input_model.model_json_schema()
    handler = load_handler(name)
    kinds: Counter[str] = Counter()

    @settings(FUZZ, max_examples=MUTATED)
    @given(mutations(from_schema(schema, refine=REFINE), schema))
    def check(mutation: Mutation) -> None:
        count(info.input_model.__name__, "mutated")
        kinds[mutation.kind] += 1
        refused(handler, mutation, context)

    check()
    assert cloud.model.calls == [], "a refused input reached a model"
    assert len(kinds) >= 5, dict(kinds)  # the mutations broke the contract in many ways, not one


@pytest.mark.parametrize("name", STEPS)
def test_an_input_that_is_no_object_is_refused(name: str, context: Context) -> None:
    info = CAPABILITIES[name]
    handler = load_handler(name)

    @settings(FUZZ, max_examples=10)
    @given(NOT_AN_OBJECT)
    def check(event: Any) -> None:
        count(info.input_model.__name__, "mutated")
        with pytest.raises(InvalidInput, match="<root>"):
            handler.lambda_handler(event, context)

    check()
