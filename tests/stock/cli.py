"""The stock AWS CLI, run in a subprocess against a served local cloud, as a user runs it.

``aws = StockCli(cloud.endpoint, home)`` then ``aws("stepfunctions", "list-state-machines")``
answers the command's JSON output; ``aws.fails(...)`` answers the error the CLI printed
(``code``, ``message``). The CLI is the pinned one (``awscli`` in requirements-dev.txt), with
nothing but the environment ``make serve`` prints: the endpoint and fake credentials, and a
home of its own, so no file of the machine's ``~/.aws`` is read.

Every operation a test drives is recorded with its outcome: ``make test`` prints how many
distinct operations answered as on AWS (a test that asserts AWS's shape passed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AWS = Path(sys.executable).with_name("aws")  # the pinned stock CLI, installed beside this interpreter
_ERROR = re.compile(
    r"An error occurred \((?P<code>[^)]+)\) when calling the (?P<op>\w+) operation[^:]*: ?(?P<msg>.*)"
)

# (service, command) -> the node ids of the tests that drove it, and those that passed
DRIVEN: dict[str, set[str]] = {}
PASSED: set[str] = set()


class CliFailed(AssertionError):
    def __init__(self, argv: list[str], status: int, stderr: str) -> None:
        super().__init__(f"`aws {' '.join(argv)}` exited {status}: {stderr.strip()[-2000:]}")
        self.status = status
        self.stderr = stderr


@dataclass(frozen=True)
class CliError:
    code: str
    operation: str
    message: str


@dataclass
class StockCli:
    endpoint: str
    home: Path
    region: str = "us-east-1"
    test: str = ""  # the node id of the test now driving it
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": f"{AWS.parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(self.home),
            "AWS_CONFIG_FILE": str(self.home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "credentials"),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            # StartSyncExecution's host prefix is "sync-": docs/local-cloud.md says why this is set
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_PAGER": "",
            **self.extra_env,
        }

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        args = [str(a) for a in argv]
        if len(args) >= 2 and not args[0].startswith("-"):
            DRIVEN.setdefault(f"{args[0]} {args[1]}", set()).add(self.test)
        return subprocess.run(
            [str(AWS), *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=cwd,
            timeout=120,
            check=False,
        )

    def __call__(self, *argv: str, cwd: Path | None = None) -> Any:
        """The command's JSON output (None when it prints nothing); CliFailed if it failed."""
        done = self.run(*argv, "--output", "json", cwd=cwd)
        if done.returncode != 0:
            raise CliFailed(list(argv), done.returncode, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def text(self, *argv: str) -> str:
        done = self.run(*argv, "--output", "text")
        if done.returncode != 0:
            raise CliFailed(list(argv), done.returncode, done.stderr)
        return done.stdout.strip()

    def fails(self, *argv: str) -> CliError:
        """The AWS error the command ended with, as the CLI printed it (its code, operation, message)."""
        done = self.run(*argv, "--output", "json")
        assert done.returncode != 0, f"`aws {' '.join(argv)}` succeeded: {done.stdout[:500]}"
        found = _ERROR.search(done.stderr)
        assert found, f"`aws {' '.join(argv)}` printed no AWS error: {done.stderr[-1500:]}"
        return CliError(found["code"], found["op"], found["msg"].strip())


def summary_lines() -> list[str]:
    """How many distinct CLI operations the tests drove, and how many answered as on AWS."""
    if not DRIVEN:
        return []
    answered = sorted(op for op, tests in DRIVEN.items() if tests and tests <= PASSED)
    failed = sorted(set(DRIVEN) - set(answered))
    lines = [f"{len(DRIVEN)} distinct AWS CLI operations driven, {len(answered)} answered as on AWS"]
    lines += [f"  not as on AWS (a test failed): {op}" for op in failed]
    return lines


def exported() -> dict[str, list[str]]:
    return {op: sorted(tests) for op, tests in DRIVEN.items()} | {"": sorted(PASSED)}


def merge(worker: dict[str, list[str]]) -> None:
    PASSED.update(worker.get("", []))
    for op, tests in worker.items():
        if op:
            DRIVEN.setdefault(op, set()).update(tests)
