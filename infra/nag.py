"""cdk-nag, always on: the rule packs, the one way to acknowledge a finding, the report.

cdk-nag v3 is a CDK policy-validation plugin: ``Validations.of(app).add_plugins(...)``.
An unacknowledged error fails ``cdk synth``; every finding, error or warning, lands in
the cloud assembly's ``validation-report.json`` (the infra tests fail on any of them).

Acknowledgements go through :func:`acknowledge` only, called next to the construct that
causes the finding, so a reader sees the exception where the resource is defined. Each
one names the exact finding (``RuleId`` or ``RuleId[FindingId]``, e.g.
``AwsSolutions-IAM5[Resource::*]``): cdk-nag v3 matches finding ids exactly, so an
acknowledgement never hides a different finding of the same rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

_FINDING = re.compile(r"^(AwsSolutions|Serverless)-[A-Za-z0-9]+(\[.+\])?$")
_MIN_REASON = 40  # long enough to say why, not just "ok"
VALIDATION_REPORT = "validation-report.json"  # CDK's policy-validation report, in the assembly
# Lets a synth finish with violations, so that a test can read the whole report
# (by default, synth stops when any plugin reports an error).
REPORT_ONLY = {"@aws-cdk/core:failSynthOnValidationErrors": False}


def apply_nag(app: App) -> None:
    """Run the AwsSolutions and Serverless packs on every stack of the app at synth.

    ``write_suppressions_to_cloud_formation`` copies each acknowledgement into the
    resource's template metadata, so the audit trail ships with the template.
    """
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, verbose=True),
    )


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and the resources below it)."""
    if not _FINDING.match(finding):
        raise ValueError(f"not a cdk-nag finding id: {finding!r}")
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"{finding}: give a specific reason, not {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


@dataclass(frozen=True)
class Finding:
    """One unacknowledged violation in a cloud assembly's validation report."""

    plugin: str
    rule: str
    severity: str
    paths: tuple[str, ...]
    description: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.rule} ({self.plugin}) at {', '.join(self.paths)}"


def findings(assembly_dir: Path) -> list[Finding]:
    """Every violation, error or warning, that a synth left in ``validation-report.json``.

    CDK writes the report whether or not synth failed; an acknowledged finding is not
    in it. A missing report means no validation plugin ran, which is itself a failure.
    """
    report = json.loads((assembly_dir / VALIDATION_REPORT).read_text())
    return [
        Finding(
            plugin=plugin["pluginName"],
            rule=violation["ruleName"],
            severity=violation.get("severity", "error"),
            paths=tuple(c["constructPath"] for c in violation.get("violatingConstructs", [])),
            description=violation.get("description", ""),
        )
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
    ]
