#!/usr/bin/env python3
"""The aiflows CDK app: one stack, cdk-nag on every synth, no AWS calls (synth runs offline)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from aiflows_runtime.manifest import ManifestError
from infra.constructs.event_bus import BusPublishersError
from infra.constructs.flow import FlowDefinitionError
from infra.constructs.guardrail import GuardrailError
from infra.nag import apply_nag
from infra.regions import REGION_SETTING, RegionError, require_supported_region
from infra.stack import AiFlowsStack
from infra.stage import Stage, StageError, stage_from

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def project_context() -> dict[str, Any]:
    """cdk.json's context (the feature flags), for runs that do not go through the CLI.

    `cdk synth` passes this context itself, and CLI context wins over App props;
    `python app.py` (the tests, the local cloud) gets the same flags this way.
    """
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build(
    context: dict[str, Any] | None = None, outdir: str | None = None, *, stages: list[Stage] | None = None
) -> cdk.App:
    """The app, ready to synthesize; by default into CDK_OUTDIR, as under the CLI.

    One stack, of the stage the context names (infra/stage.py): ``AiFlows`` for ``prod``,
    ``AiFlows-<stage>`` for another. ``stages`` puts those stacks in the app instead, side by
    side (the infra tests check that two stages collide nowhere).
    """
    # The stack names no region: the one the CLI will deploy to is refused here if unsupported.
    require_supported_region(os.environ.get(REGION_SETTING))
    app = cdk.App(context={**project_context(), **(context or {})}, outdir=outdir)
    for stage in stages or [stage_from(app.node)]:
        AiFlowsStack(
            app,
            stage.stack_name,
            stage=stage,
            description="aiflows: AI workflows on AWS serverless"
            + ("" if stage.default else f" (stage {stage.name})"),
        )
    apply_nag(app)
    return app


def main() -> int:
    """Synthesize; what cannot be built (a flow, capability, stage, region, guardrail) is a message."""
    try:
        build().synth()
    except (
        ManifestError,
        FlowDefinitionError,
        StageError,
        RegionError,
        BusPublishersError,
        GuardrailError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
