"""Read a synthesized cloud assembly (``cdk.out``) and publish its assets, as ``cdk deploy`` does."""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
BOOTSTRAP_VERSION = "30"
API_GATEWAY_LOGGING_ROLE = "apigateway-cloudwatch-logs"  # the local account has set API Gateway's role


class AssemblyError(Exception):
    """The cloud assembly is missing or does not hold what the deploy needs."""


@dataclass(frozen=True)
class FileAsset:
    source: Path
    packaging: str  # "zip" (a folder) or "file"
    bucket: str
    key: str

    def body(self) -> bytes:
        if self.packaging == "file":
            return self.source.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.source.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(self.source).as_posix())
        return buffer.getvalue()


@dataclass(frozen=True)
class StackArtifact:
    artifact_id: str
    stack_name: str
    template: dict[str, Any]
    assets: tuple[FileAsset, ...]


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def read_assembly(directory: str | os.PathLike[str], account: str, region: str) -> list[StackArtifact]:
    """The stacks of an assembly, in the order of their dependencies."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise AssemblyError(f"{root} holds no manifest.json: run `npx cdk synth` first")
    artifacts: dict[str, Any] = json.loads(manifest_path.read_text())["artifacts"]
    stacks: list[StackArtifact] = []
    for artifact_id, artifact in artifacts.items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        template = json.loads((root / properties["templateFile"]).read_text())
        assets: list[FileAsset] = []
        for dependency in artifact.get("dependencies", []):
            dep = artifacts.get(dependency, {})
            if dep.get("type") != "cdk:asset-manifest":
                continue
            manifest = json.loads((root / dep["properties"]["file"]).read_text())
            if manifest.get("dockerImages"):
                raise AssemblyError("container image assets need Docker, which the local cloud does not use")
            for asset in manifest.get("files", {}).values():
                for destination in asset["destinations"].values():
                    assets.append(
                        FileAsset(
                            source=root / asset["source"]["path"],
                            packaging=asset["source"].get("packaging", "file"),
                            bucket=_substitute(destination["bucketName"], account, region),
                            key=_substitute(destination["objectKey"], account, region),
                        )
                    )
        stacks.append(
            StackArtifact(
                artifact_id=artifact_id,
                stack_name=properties.get("stackName", artifact_id),
                template=template,
                assets=tuple(assets),
            )
        )
    if not stacks:
        raise AssemblyError(f"{root} holds no CloudFormation stack")
    return stacks
