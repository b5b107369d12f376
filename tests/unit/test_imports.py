"""Every module of the project imports: no dead file hides behind a missing dependency."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("localcloud", "infra", "aiflows")
RUNTIME = ROOT / "functions" / "runtime" / "python"


def package_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    for path in sorted(RUNTIME.rglob("*.py")):
        parts = path.relative_to(RUNTIME).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def handler_folders() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "functions").glob("*/handler.py"))


@pytest.mark.parametrize("name", package_modules())
def test_module_imports(name: str) -> None:
    importlib.import_module(name)


@pytest.mark.parametrize("folder", handler_folders(), ids=lambda p: p.name)
def test_handler_imports_as_lambda_would(folder: Path) -> None:
    # A fresh interpreter with only the function's folder and the shared layer on
    # the path, as in the Lambda runtime: no test-only path can hide a missing import.
    code = "import handler; assert callable(handler.lambda_handler)"
    subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = {[str(folder), str(RUNTIME)]!r}; {code}",
        ],
        check=True,
        cwd=folder,
        env={
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "STATE_TABLE_NAME": "state",
            "PATH": "/usr/bin:/bin",
        },
    )


def test_every_handler_folder_is_found() -> None:
    assert "classify" in {p.name for p in handler_folders()}
