"""The scaffold writes folders the registry reads, refuses what it cannot write, and never overwrites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiflows.flows import read_flow
from aiflows.registry import FUNCTIONS, read_capability
from aiflows.scaffold import ScaffoldError, new_capability, new_flow
from infra.contract_check import check_definition


def test_a_new_capability_is_a_folder_the_registry_reads(tmp_path: Path) -> None:
    # Given a capability scaffolded into a functions/ folder
    written = new_capability("probe_reader", functions=tmp_path)
    # Then its folder holds what a capability holds, and it reads as one, with a priced route
    names = {p.relative_to(tmp_path / "probe_reader").as_posix() for p in written}
    assert {"capability.toml", "contract.py", "handler.py", "logic.py", "prompts/v1.toml"} <= names
    info = read_capability(tmp_path / "probe_reader")
    assert info.binding == "ProbeReaderFunction"
    assert info.manifest.model is not None and len(info.route_models) == 2
    assert info.answer_model() is not None


def test_a_new_flow_is_a_folder_that_weaves_and_keeps_its_contracts(tmp_path: Path) -> None:
    # Given a flow scaffolded on an existing capability
    new_flow("probe_flow", "probe.submitted", "classify", root=tmp_path)
    flow = read_flow(tmp_path / "probe_flow")
    # Then it starts on its trigger, weaves, and every Task keeps its capability's contract
    assert [t.detail_type for t in flow.manifest.triggers] == [("probe.submitted",)]
    assert check_definition(flow.woven(), flow.name, flow.capability_bindings()) == []
    assert set(flow.manifest.events) == {"probe_flow.completed", "probe_flow.rejected"}
    assert (tmp_path / "probe_flow" / "graph.svg").is_file()
    assert "<!-- aiflows:graph -->" in (tmp_path / "probe_flow" / "README.md").read_text()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda root: new_capability("Bad-Name", functions=root), "lower_snake_case"),
        (lambda root: new_capability("json", functions=root), "would shadow the Python module 'json'"),
        (lambda root: new_flow("probe", "submitted", "classify", root=root), "is not a detail-type"),
        (lambda root: new_flow("probe", "probe.submitted", "nope", root=root), "new capability"),
        (lambda root: new_flow("probe", "probe.submitted", "retrieve", root=root), "takes no document"),
    ],
)
def test_what_cannot_be_written_is_refused_with_the_fix(tmp_path: Path, call, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        call(tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_scaffold_never_overwrites_a_folder() -> None:
    with pytest.raises(ScaffoldError, match="exists already"):
        new_capability("classify", functions=FUNCTIONS)


def test_a_capability_named_like_a_skeleton_state_gets_a_step_of_its_own(tmp_path: Path) -> None:
    # Given a capability named like the skeleton's review state
    new_capability("review", functions=tmp_path / "functions")
    # When a flow is scaffolded on it
    new_flow(
        "probe_review", "probe.submitted", "review", root=tmp_path / "flows", functions=tmp_path / "functions"
    )
    states = json.loads((tmp_path / "flows" / "probe_review" / "definition.asl.json").read_text())["States"]
    # Then its step is a state of its own, and the skeleton's review still asks a person
    assert states["Validate"]["Next"] == "ReviewStep"
    assert states["ReviewStep"]["Parameters"]["FunctionName"] == "${ReviewFunction}"
    assert states["Review"]["Parameters"]["FunctionName"] == "${RequestReviewFunction}"
