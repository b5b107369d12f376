"""Cold-start cost of each capability: import and initialisation of its handler module
in a fresh interpreter, next to `import boto3` alone, measured in the same run.

    .venv/bin/python -m bench.coldstart [--repeat 7]

Each figure is the median of N fresh interpreters (python -I, the function's
code root and the shared layer on the path, as the Lambda runtime sets them).
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
PROBE = """
import sys, time, json
sys.path[:0] = {paths!r}
started = time.perf_counter()
import {module}
print(json.dumps((time.perf_counter() - started) * 1000))
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


def measure(module: str, paths: list[str], cwd: Path, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        out = subprocess.run(  # noqa: S603 - our own interpreter and probe
            [sys.executable, "-I", "-c", PROBE.format(paths=paths, module=module)],
            cwd=cwd,
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    baseline = measure("boto3", [], ROOT, args.repeat)
    print(f"Cold start: handler import + init, median of {args.repeat} fresh interpreters")
    print(f"  {'import boto3 alone':<22} {baseline:8.1f} ms   1.00x")
    for folder in sorted(p.parent for p in (ROOT / "functions").glob("*/handler.py")):
        took = measure(f"{folder.name}.handler", [str(folder.parent), str(RUNTIME)], folder, args.repeat)
        print(f"  {folder.name:<22} {took:8.1f} ms   {took / baseline:4.2f}x")


if __name__ == "__main__":
    main()
