"""Docs are part of the product: what they say is checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiflows.flows import FlowInfo, bus_events, flows, read_sample
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "statemachines").glob("*/README.md")),
]


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))


def test_the_readme_opens_with_the_demo_and_test_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_make_target_the_docs_name_exists(doc: Path) -> None:
    named = set(re.findall(r"`make ([a-z-]+)", doc.read_text()))
    assert named <= make_targets()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_repository_path_the_docs_link_exists(doc: Path) -> None:
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)\)", doc.read_text()):
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


EVENTS_DOC = ROOT / "docs" / "events.md"


def _event_sections() -> dict[str, str]:
    """Each event's section, its heading included: in docs/events.md, or in its flow's README.md."""
    sections: dict[str, str] = {}
    for doc in [EVENTS_DOC, *sorted((ROOT / "statemachines").glob("*/README.md"))]:
        text = doc.read_text()
        starts = [h.start() for h in re.finditer(r"^#{1,3} ", text, flags=re.MULTILINE)] + [len(text)]
        for heading in re.finditer(r"^#{2,3} `([a-z0-9._-]+)`", text, flags=re.MULTILINE):
            end = next(start for start in starts if start > heading.start())
            sections[heading.group(1)] = text[heading.start() : end]
    return sections


@pytest.mark.parametrize("detail_type", sorted(bus_events()))
def test_the_event_doc_lists_exactly_the_contract_fields(detail_type: str) -> None:
    source, contract, who = bus_events()[detail_type]
    fields = ", ".join(f"`detail.{name}`" for name in contract.model_fields)
    section = _event_sections().get(detail_type)
    where = f"statemachines/{who}/README.md" if who in flows() else "docs/events.md"
    assert section is not None, (
        f"{where} has no section for {detail_type} (of {who}): add a heading "
        f"### `{detail_type}` naming its source `{source}` and its fields {fields}"
    )
    assert set(re.findall(r"`detail\.(\w+)`", section)) == set(contract.model_fields), (
        f"the section `{detail_type}` ({where}): list exactly the fields of {contract.__name__}: {fields}"
    )
    assert f"`{source}`" in section, f"the section `{detail_type}` ({where}): name its source `{source}`"


@pytest.mark.parametrize("flow", list(flows().values()), ids=lambda flow: flow.name)
def test_each_flows_readme_draws_and_prices_it_as_it_deploys(flow: FlowInfo) -> None:
    from aiflows import graph
    from aiflows.authoring import GRAPH_FILE, README, generated_parts, with_generated_parts

    again = f"run `python -m aiflows flows docs {flow.name}`"
    drawn = flow.folder / GRAPH_FILE
    assert drawn.is_file() and drawn.read_text() == graph.svg(flow.woven(), title=flow.name), (
        f"statemachines/{flow.name}/{GRAPH_FILE} is not the flow as it deploys: {again}"
    )
    readme = (flow.folder / README).read_text()
    assert with_generated_parts(readme, generated_parts(flow)) == readme, (
        f"statemachines/{flow.name}/{README}: its graph or its cost table is not what deploys: {again}"
    )


@pytest.mark.parametrize("flow", [f for f in flows().values() if f.manifest.triggers], ids=lambda f: f.name)
def test_the_sample_events_start_the_flow_or_show_a_broken_one(flow: FlowInfo) -> None:
    # Given the flow's sample events: invalid*.json breaks the contract on purpose
    samples = flow.sample_events()
    assert samples, f"{flow.folder}/events/ has no sample event: add one PutEvents entry as JSON"
    contracts = flow.trigger_contracts()
    for sample in samples:
        entry = read_sample(sample)
        assert entry["DetailType"] in contracts, f"{sample}: DetailType is none of the flow's triggers"
        if sample.name.startswith("invalid"):
            with pytest.raises(InvalidInput):
                parse_input(entry["Detail"], contracts[entry["DetailType"]])
        else:
            contracts[entry["DetailType"]].model_validate(entry["Detail"])


def _cli_commands() -> set[tuple[str, ...]]:
    """Every `python -m aiflows <group> [<command>]` the docs and runbooks name."""
    found = set()
    for doc in DOCS:
        for match in re.finditer(r"python -m aiflows ([a-z]+)(?: ([a-z]+))?", doc.read_text()):
            found.add(tuple(word for word in match.groups() if word))
    return found


@pytest.mark.parametrize("command", sorted(_cli_commands()), ids=" ".join)
def test_every_cli_command_the_docs_name_exists(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    from aiflows.cli import main

    # A command that exists prints its help and exits 0; an unknown one exits 2
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0, capsys.readouterr().err


def test_the_guardrail_figures_in_the_docs_are_what_make_eval_prints() -> None:
    from evals.guard import report

    assert f"```text\n{report()}\n```" in (ROOT / "docs" / "guardrails.md").read_text()


def test_the_policy_versions_the_guardrails_page_quotes_are_the_files_versions() -> None:
    from aiflows.registry import capability_module
    from aiflows_runtime.policies import ActionPolicy, content_policy, guard_policy, injection_policy

    logic = capability_module("guard", "logic")
    actions = ActionPolicy.model_validate(flows()["document_intake"].action_policy())
    version = logic.Policies(guard_policy(), injection_policy(), content_policy(), actions).version
    assert f"`{version}`" in (ROOT / "docs" / "guardrails.md").read_text()
