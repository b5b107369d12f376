"""Every module of the project imports: no dead file hides behind a missing dependency."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiflows.registry import capabilities, capability_module

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
def test_handler_imports_as_lambda_would(folder: Path, tmp_path: Path) -> None:
    # A fresh interpreter with only the function's code root (its folder, as the asset
    # lays it out) and the shared layer on the path, as in the Lambda runtime, and no
    # site-packages (-S: not even the editable install of the runtime): no test-only
    # path can hide a missing import.
    shutil.copytree(folder, tmp_path / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    code = f"import {folder.name}.handler as h; assert callable(h.lambda_handler)"
    site = [p for p in sys.path if p.endswith("site-packages")]
    subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path[:0] = {[str(tmp_path), str(RUNTIME), *site]!r}; {code}",
        ],
        check=True,
        cwd=tmp_path,
        env={
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "STATE_TABLE_NAME": "state",
            "PATH": "/usr/bin:/bin",
        },
    )


def test_every_handler_folder_is_found() -> None:
    assert {p.name for p in handler_folders()} >= set(capabilities())


def test_every_capability_module_imports_in_one_process_without_clashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the environment a handler reads at import
    monkeypatch.setenv("STATE_TABLE_NAME", "state")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    # When every module of every capability is imported in this one process
    # Then two capabilities' logic modules are each their own package's
    loaded = {}
    for name, info in capabilities().items():
        for path in sorted(info.folder.glob("*.py")):
            module = capability_module(name, path.stem) if path.stem != "__init__" else None
            if module is not None:
                loaded[f"{name}.{path.stem}"] = module
    logics = [m for key, m in loaded.items() if key.endswith(".logic")]
    assert len(logics) >= 2 and len({m.__file__ for m in logics}) == len(logics)
    for key, module in loaded.items():
        assert module.__name__ == key and Path(module.__file__).parent.name == key.split(".")[0]


def test_the_aiflows_cli_loads_no_moto_and_no_local_cloud() -> None:
    # Given a fresh interpreter, as `python -m aiflows` starts against AWS or the local cloud
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['aiflows', '--help']\n"
        "try:\n"
        "    runpy.run_module('aiflows', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'localcloud')))\n"
    )
    # When it builds its commands (the doctor, the registry, the trace view with them)
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    # Then neither moto nor the local cloud's server is loaded: only what reads a template
    assert out.stdout.strip().splitlines()[-1] == "['localcloud', 'localcloud.state_machines']"
