"""The framework's own fixtures; the shared ones are the test kit's (aiflows/testing.py)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiflows.registry import capability_module
from aiflows.testing import (  # noqa: F401 - the helpers the framework's tests import from here
    ROOT,
    cached_assembly,
    drained,
    execution_of,
    finished,
    history,
    of_type,
    pending_review,
    synth,
)


def import_function_module(capability: str, module: str = "handler") -> ModuleType:
    """A module of one capability folder, imported as that function's Lambda imports it."""
    return capability_module(capability, module)


@pytest.fixture(scope="session")
def harness_assembly() -> Path:
    return cached_assembly(ROOT / "tests" / "fixtures" / "harness" / "app.py")


# The fuzz suite's count of examples per contract (tests/fuzz/examples.py): each xdist worker
# hands its own over at the end, and the controller (or the only process) prints the table.
def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.chaos import conftest as chaos
    from tests.fuzz import examples
    from tests.stock import cli

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_examples"] = examples.exported()
        workeroutput["chaos_survived"] = list(chaos.SURVIVED)
        workeroutput["stock_operations"] = cli.exported()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    from tests.chaos import conftest as chaos
    from tests.fuzz import examples
    from tests.stock import cli

    examples.merge(getattr(node, "workeroutput", {}).get("fuzz_examples", []))
    chaos.SURVIVED.extend(getattr(node, "workeroutput", {}).get("chaos_survived", []))
    cli.merge(getattr(node, "workeroutput", {}).get("stock_operations", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.chaos import conftest as chaos
    from tests.fuzz import examples
    from tests.stock import cli

    lines = examples.table()
    if lines:
        terminalreporter.section("fuzzing: examples run per contract")
        for line in lines:
            terminalreporter.write_line(line)
    if chaos.SURVIVED:
        terminalreporter.section("chaos: faults injected, runs that survived them")
        for line in chaos.summary_lines():
            terminalreporter.write_line(line)
    stock = cli.summary_lines()
    if stock:
        terminalreporter.section("stock clients: the AWS CLI against the local cloud")
        for line in stock:
            terminalreporter.write_line(line)
