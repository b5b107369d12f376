"""The project's shared runtime (the functions' layer), for the tools outside Lambda.

The local model reads the handlers' prompt templates, the demo answers reviews with
the same code as the review API, and the operations commands read breakers and
ledgers with the same adapters as the handlers: all import ``aiflows_runtime`` from
its source folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / "functions" / "runtime" / "python"


def use_shared_runtime() -> None:
    if str(RUNTIME) not in sys.path:
        sys.path.append(str(RUNTIME))
