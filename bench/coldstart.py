"""Cold start of each capability: import and initialisation of its handler module in a
fresh interpreter, next to `import boto3` alone, measured in the same run.

    .venv/bin/python -m bench.coldstart [--repeat 7] [--capability NAME ...]

Each figure is the median of N fresh interpreters (python -I, the function's code root
and the shared layer on the path, as the Lambda runtime sets them). The rounds
interleave: each round times `import boto3` and then every handler, so a machine that
gets busier mid-run slows the baseline as much as the handlers.

The goal (docs/capabilities.md#cold-start): at most 1.5x `import boto3` (! = over it).
The last column names the heavy packages a handler's import loaded; the X-Ray SDK and
the idempotency layer's DynamoDB client belong on the first invocation, not here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "functions" / "runtime" / "python"
GOAL = 1.5
# Heavy packages worth naming when an import loads them (a top-level package each).
HEAVY = ("boto3", "aws_xray_sdk", "aws_lambda_powertools.utilities.idempotency")
PROBE = """
import sys, time, json
sys.path[:0] = {paths!r}
started = time.perf_counter()
import {module}
took = (time.perf_counter() - started) * 1000
print(json.dumps([took, [name for name in {heavy!r} if name in sys.modules]]))
"""
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "STATE_TABLE_NAME": "state",
    "POWERTOOLS_SERVICE_NAME": "aiflows",
    "POWERTOOLS_METRICS_NAMESPACE": "AiFlows",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "PATH": "/usr/bin:/bin",
}
BASELINE = "import boto3 alone"


def probe(module: str, paths: list[str], cwd: Path) -> tuple[float, list[str]]:
    """One fresh interpreter: the import's milliseconds, and which heavy packages it loaded."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-I", "-c", PROBE.format(paths=paths, module=module, heavy=HEAVY)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    took, loaded = json.loads(out.strip().splitlines()[-1])
    return took, loaded


def targets(only: list[str] | None) -> dict[str, tuple[str, list[str], Path]]:
    """What to time, by its row's name: the baseline, then each handler module."""
    found: dict[str, tuple[str, list[str], Path]] = {BASELINE: ("boto3", [], ROOT)}
    for folder in sorted(p.parent for p in (ROOT / "functions").glob("*/handler.py")):
        if not only or folder.name in only:
            found[folder.name] = (f"{folder.name}.handler", [str(folder.parent), str(RUNTIME)], folder)
    return found


def measure(repeat: int, only: list[str] | None = None) -> dict[str, tuple[float, list[str]]]:
    """The median import time of every target over ``repeat`` interleaved rounds."""
    todo = targets(only)
    samples: dict[str, list[float]] = {name: [] for name in todo}
    loaded: dict[str, list[str]] = {}
    for _ in range(repeat):
        for name, (module, paths, cwd) in todo.items():
            took, loaded[name] = probe(module, paths, cwd)
            samples[name].append(took)
    return {name: (statistics.median(times), loaded[name]) for name, times in samples.items()}


def table(figures: dict[str, tuple[float, list[str]]]) -> str:
    baseline = figures[BASELINE][0]
    lines = [f"  {'':<22} {'import':>8}    {'x boto3':>7} {'goal':>6}    heavy packages loaded at import"]
    for name, (took, loaded) in figures.items():
        ratio = took / baseline
        goal = "" if name == BASELINE else f"<={GOAL}"
        over = "!" if name != BASELINE and ratio > GOAL else ""
        heavy = ", ".join(loaded) if name != BASELINE else ""
        lines.append(f"  {name:<22} {took:8.1f} ms {ratio:7.2f}x {goal:>6} {over:<1}  {heavy}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--capability", action="append", help="only these (default: every handler)")
    args = parser.parse_args()
    figures = measure(args.repeat, args.capability)
    print(
        f"Cold start: handler import + init, median of {args.repeat} fresh interpreters (! = over the goal)"
    )
    print(table(figures))


if __name__ == "__main__":
    main()
