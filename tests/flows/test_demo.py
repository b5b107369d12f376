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


def test_the_guardrails_page_shows_a_blocked_run_with_its_reason(
    app_assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command docs/guardrails.md gives a newcomer to see a block
    argv = ["demo", "--assembly", str(app_assembly), "--time-scale", "0.01"]
    code = localcloud_cli(
        [*argv, "--event", "statemachines/document_intake/events/blocked.json", "--allow-failure"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert re.search(r"^Execution .*: FAILED in", printed, flags=re.MULTILINE), printed
    assert "Error: Blocked" in printed, printed  # the run's error, whatever it is, is printed
    assert "content_crypto_payment: document: payment in cryptocurrency is never accepted" in printed
    assert (
        "python -m localcloud demo --event statemachines/document_intake/events/blocked.json --allow-failure"
        in (Path(__file__).resolve().parents[2] / "docs" / "guardrails.md").read_text()
    )
