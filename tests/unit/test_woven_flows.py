"""What every shipped flow deploys as, woven: rules of the States language the weave must keep."""

from __future__ import annotations

from typing import Any

import pytest

from aiflows.flows import flows
from infra.contract_check import walk_states

CATCHING = ("Task", "Parallel", "Map")


@pytest.mark.parametrize("name", sorted(flows()))
def test_only_tasks_parallels_and_maps_retry_and_catch(name: str) -> None:
    # ASL: Retry and Catch are fields of Task, Parallel and Map states only; AWS refuses a
    # definition that gives them to another state, where moto lets it pass
    for path, state in walk_states(flows()[name].woven()):
        if state["Type"] not in CATCHING:
            assert "Catch" not in state and "Retry" not in state, path


@pytest.mark.parametrize("name", sorted(flows()))
def test_every_transition_leads_to_a_state_of_its_scope(name: str) -> None:
    # ASL: Next, Default, a Choice rule's Next and a Catcher's Next name a state of the same
    # States object (a branch or an iteration is a scope of its own)
    def check(scope: dict[str, Any], where: str) -> None:
        states = scope["States"]
        assert scope["StartAt"] in states, where
        for state_name, state in states.items():
            targets = [state.get("Next"), state.get("Default")]
            targets += [rule.get("Next") for rule in state.get("Choices", [])]
            targets += [catch.get("Next") for catch in state.get("Catch", [])]
            for target in filter(None, targets):
                assert target in states, f"{where}{state_name} -> {target}"
            for branch in state.get("Branches", []):
                check(branch, f"{where}{state_name}/")
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                check(processor, f"{where}{state_name}/")

    check(flows()[name].woven(), "")
