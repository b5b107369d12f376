"""docs/build-a-flow.md, followed literally in a copy of the repository: scaffold, edit, test,
synth, run in the local cloud, approve the review, read the trace."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from aiflows.testing import ROOT, copy_of_the_repository

TUTORIAL = ROOT / "docs" / "build-a-flow.md"
BLOCK = re.compile(r"^```(\w+)(?: (file|state)=(\S+))?\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def replace_state(path: Path, state: str, body: str) -> None:
    definition = json.loads(path.read_text())
    assert state in definition["States"], f"the tutorial edits {state}, which {path.name} does not have"
    definition["States"][state] = json.loads(body)
    path.write_text(json.dumps(definition, indent=2) + "\n")


def test_the_tutorial_builds_runs_and_approves_a_flow(tmp_path: Path) -> None:
    # Given a copy of the repository, and the tutorial's blocks in order
    repo = copy_of_the_repository(tmp_path / "repo")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    outputs: list[str] = []
    blocks = BLOCK.findall(TUTORIAL.read_text())
    assert [kind for _, kind, _, _ in blocks].count("file") >= 3
    # When each command runs and each file and state is written as the page says
    for language, kind, target, body in blocks:
        if kind == "file":
            (repo / target).parent.mkdir(parents=True, exist_ok=True)
            (repo / target).write_text(body)
        elif kind == "state":
            path, state = target.split("#")
            replace_state(repo / path, state, body)
        elif language == "bash":
            for command in (line.removeprefix("$ ") for line in body.splitlines() if line.startswith("$ ")):
                done = subprocess.run(
                    command,
                    shell=True,
                    cwd=repo,
                    env=environment,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                outputs.append(done.stdout)
    # Then the capability and the flow are files in their own folders, and nothing else changed
    assert (repo / "functions" / "sentiment" / "capability.toml").is_file()
    assert (repo / "statemachines" / "feedback_triage" / "graph.svg").is_file()
    # And the flow's own tests passed, in the local cloud
    assert re.search(r"\b\d+ passed\b", outputs[2])
    # And the demo's run asked a person, was approved, succeeded, and its trace was read
    demo = outputs[-1]
    assert "Review " in demo and "is waiting for a person" in demo
    assert "sentiment" in demo and "negative" in demo
    assert "-> approved by" in demo
    assert re.search(r"Execution .*: SUCCEEDED", demo), demo[-3000:]
    assert "Its trace" in demo and "Sentiment" in demo
