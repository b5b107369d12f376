"""The benchmarks `make bench` runs: each prints its figures."""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def local_cloud_arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark of the local cloud: moto's chatter silenced, and the assembly to deploy as an argument."""
    # moto's own chatter (resource types it skips, failures the flows catch) is not a figure
    warnings.filterwarnings("ignore", module="moto.cloudformation.parsing")
    for name in ("moto.cloudformation.parsing", "moto.stepfunctions.parser"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out")
    return parser
