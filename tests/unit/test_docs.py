"""Docs are part of the product: what they say is checked against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aiflows.flows import FlowInfo, bus_events, flows
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


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
    """Each event's section of docs/events.md, its heading included."""
    text = EVENTS_DOC.read_text()
    headings = list(re.finditer(r"^#{2,3} `([a-z0-9._-]+)`", text, flags=re.MULTILINE))
    ends = [h.start() for h in headings[1:]] + [len(text)]
    return {h.group(1): text[h.start() : end] for h, end in zip(headings, ends, strict=True)}


@pytest.mark.parametrize("detail_type", sorted(bus_events()))
def test_the_event_doc_lists_exactly_the_contract_fields(detail_type: str) -> None:
    source, contract, who = bus_events()[detail_type]
    fields = ", ".join(f"`detail.{name}`" for name in contract.model_fields)
    section = _event_sections().get(detail_type)
    assert section is not None, (
        f"docs/events.md has no section for {detail_type} (put by {who}): add a heading "
        f"### `{detail_type}` naming its source `{source}` and its fields {fields}"
    )
    assert set(re.findall(r"`detail\.(\w+)`", section)) == set(contract.model_fields), (
        f"docs/events.md, section `{detail_type}`: list exactly the fields of {contract.__name__}: {fields}"
    )
    assert f"`{source}`" in section, f"docs/events.md, section `{detail_type}`: name its source `{source}`"


def test_the_pricing_table_in_the_docs_is_the_one_the_definitions_give() -> None:
    from infra.pricing import render

    assert render() in (ROOT / "docs" / "flows.md").read_text(), (
        "docs/flows.md, section 'What a run costs': paste the table `python -m infra.pricing` prints"
    )


@pytest.mark.parametrize("flow", list(flows().values()), ids=lambda flow: flow.name)
def test_the_docs_draw_each_flow_as_it_deploys(flow: FlowInfo) -> None:
    from infra import graph

    drawn = ROOT / "docs" / "graphs" / f"{flow.name}.svg"
    again = f"python -m aiflows flows graph {flow.name} --svg docs/graphs/{flow.name}.svg"
    assert drawn.is_file() and drawn.read_text() == graph.svg(flow.woven(), title=flow.name), (
        f"docs/graphs/{flow.name}.svg is not the flow as it deploys: run `{again}`"
    )
    text = (ROOT / "docs" / "flows.md").read_text()
    assert f"```mermaid\n{graph.mermaid(flow.woven(), title=flow.name).rstrip()}\n```" in text, (
        f"docs/flows.md, section 'The graphs', ### {flow.name}: paste what `{again}` prints"
    )


@pytest.mark.parametrize("flow", [f for f in flows().values() if f.manifest.triggers], ids=lambda f: f.name)
def test_the_sample_events_start_the_flow_or_show_a_broken_one(flow: FlowInfo) -> None:
    # Given the flow's sample events: invalid*.json breaks the contract on purpose
    samples = flow.sample_events()
    assert samples, f"{flow.folder}/events/ has no sample event: add one PutEvents entry as JSON"
    contracts = flow.trigger_contracts()
    for sample in samples:
        entry = json.loads(sample.read_text())
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
    from aiflows_runtime.policies import action_policy, content_policy, guard_policy, injection_policy

    logic = capability_module("guard", "logic")
    version = logic.Policies(guard_policy(), injection_policy(), content_policy(), action_policy()).version
    assert f"`{version}`" in (ROOT / "docs" / "guardrails.md").read_text()
