"""`make demo` runs `python -m localcloud demo`: its printed run is what a newcomer reads first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localcloud.__main__ import main as localcloud_cli


def test_the_demo_runs_a_flow_and_approves_its_review(
    app_assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = localcloud_cli(["demo", "--assembly", str(app_assembly), "--time-scale", "0.01"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # Both runs succeeded: the clear invoice alone, the doubtful one after a reviewer's approval
    assert len(re.findall(r"^Execution .*: SUCCEEDED in", printed, flags=re.MULTILINE)) == 2
    assert "is waiting for a person (Review)" in printed
    assert "-> approved by reviewer@example.com" in printed
    for state in ("Validate", "GuardInput", "Classify", "Analyze", "Review", "Act", "PublishProcessed"):
        assert state in printed
    assert '"decision": "approve"' in printed
    assert "Its trace (the local X-Ray" in printed and "model calls:" in printed
    assert "Where to look next" in printed
