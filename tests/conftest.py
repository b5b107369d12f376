"""Shared fixtures: fake credentials, import paths, and synthesized cloud assemblies."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "functions" / "runtime" / "python"

for path in (ROOT, RUNTIME):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: every client gets fake credentials and a fixed region."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


FUNCTION_LOCAL_MODULES = ("handler", "logic", "effects")


def import_function_module(capability: str, module: str = "handler") -> ModuleType:
    """Import a module of one function folder, as that function's Lambda would.

    Every function folder has its own ``handler`` and ``logic``; the modules of one
    folder are dropped from ``sys.modules`` before the next folder is imported.
    """
    folder = ROOT / "functions" / capability
    for name in FUNCTION_LOCAL_MODULES:
        sys.modules.pop(name, None)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(folder))


def synth(app_script: Path, outdir: Path) -> Path:
    """Synthesize an app in a child process (jsii's node runtime stays out of the test process)."""
    subprocess.run(
        [sys.executable, str(app_script)],
        check=True,
        cwd=ROOT,
        env={
            **os.environ,
            "CDK_OUTDIR": str(outdir),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return outdir


@pytest.fixture(scope="session")
def harness_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield synth(ROOT / "tests" / "fixtures" / "harness" / "app.py", tmp_path_factory.mktemp("harness.out"))


@pytest.fixture(scope="session")
def app_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The product's own app, synthesized once per test session (cdk-nag included)."""
    return synth(ROOT / "app.py", tmp_path_factory.mktemp("app.out"))
