"""`make demo` runs `python -m localcloud demo`: its printed run is what a newcomer reads first."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.__main__ import main as localcloud_cli


def test_the_demo_command_prints_the_run(app_assembly: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = localcloud_cli(["demo", "--assembly", str(app_assembly), "--time-scale", "0.01"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "SUCCEEDED" in printed
    assert "Classify" in printed and "Classified" in printed
    assert '"label": "invoice"' in printed
    assert "Where to look next" in printed
