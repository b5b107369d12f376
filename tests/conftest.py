"""The framework's own fixtures; the shared ones are the test kit's (aiflows/testing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from aiflows.registry import capability_module
from aiflows.testing import (  # noqa: F401 - the helpers the framework's tests import from here
    ROOT,
    drained,
    execution_of,
    finished,
    of_type,
    pending_review,
    synth,
)


def import_function_module(capability: str, module: str = "handler") -> ModuleType:
    """A module of one capability folder, imported as that function's Lambda imports it."""
    return capability_module(capability, module)


@pytest.fixture(scope="session")
def harness_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield synth(ROOT / "tests" / "fixtures" / "harness" / "app.py", tmp_path_factory.mktemp("harness.out"))
