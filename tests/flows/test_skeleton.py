"""What the scaffold writes works unedited: it synthesizes with cdk-nag, runs in the local cloud and
passes its own tests, in a copy of the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from aiflows.testing import copy_of_the_repository


def test_an_unedited_capability_and_flow_pass_their_own_tests(tmp_path: Path) -> None:
    # Given a copy of the repository, with a capability and a flow scaffolded in it, untouched
    repo = copy_of_the_repository(tmp_path / "repo")

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=repo,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run("-m", "aiflows", "new", "capability", "gist")
    run("-m", "aiflows", "new", "flow", "memo_intake", "--trigger", "memo.received", "--capability", "gist")
    # When its own tests run (the flow's synthesizes the app, cdk-nag included, and runs in the local cloud)
    printed = run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "functions/gist", "statemachines/memo_intake"
    )
    # Then they pass
    assert re.search(r"\b4 passed\b", printed), printed
