"""Infra fixtures: the product app synthesized once per session, in process, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build
from infra.nag import REPORT_ONLY
from infra.stack import AiFlowsStack

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Synthesized:
    """The app as `cdk synth` builds it (cdk.json context, cdk-nag), and what it wrote."""

    stack: AiFlowsStack
    template: Template
    assembly_dir: Path

    def logical_id(self, construct: cdk.IResource | cdk.CfnResource) -> str:
        element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
        return self.stack.get_logical_id(element)  # type: ignore[arg-type]


def _synthesize(outdir: Path, context: dict[str, object] | None = None) -> Synthesized:
    # REPORT_ONLY lets synth finish with nag errors: they fail the nag tests, with the
    # full list, not every test here.
    app = build(context={**REPORT_ONLY, **(context or {})}, outdir=str(outdir))
    (stack,) = [child for child in app.node.children if isinstance(child, AiFlowsStack)]
    app.synth()
    return Synthesized(stack=stack, template=Template.from_stack(stack), assembly_dir=outdir)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app as a deploy that names no stage builds it (synth is slow under jsii: once per session)."""
    return _synthesize(tmp_path_factory.mktemp("aiflows.out"))


@pytest.fixture(scope="session")
def synthesized_dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stage dev, ``-c stage=dev``: the stack AiFlows-dev, development policy (infra/stage.py)."""
    return _synthesize(tmp_path_factory.mktemp("aiflows-dev.out"), {"stage": "dev"})


@pytest.fixture(scope="session")
def synthesized_prod_as_development(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """AiFlows under the development policy (``-c stage_policy=development``): how prod is torn down."""
    return _synthesize(tmp_path_factory.mktemp("aiflows-prod-dev.out"), {"stage_policy": "development"})


@pytest.fixture
def stack() -> cdk.Stack:
    """A bare stack for construct tests, in an app of its own."""
    return cdk.Stack(cdk.App(), "Test")


@pytest.fixture
def echo_code() -> Path:
    return FIXTURES / "echo"


def refused_synth(tmp_path: Path, context: dict[str, object]) -> str:
    """What `cdk synth -c …` prints when the app refuses its context (the CLI hands it over in
    CDK_CONTEXT_JSON): one line, no trace, and no template written."""
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "CDK_OUTDIR": str(tmp_path / "cdk.out"), "CDK_CONTEXT_JSON": json.dumps(context)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))
    return done.stderr
