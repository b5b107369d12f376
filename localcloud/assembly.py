"""Read a synthesized cloud assembly (``cdk.out``) and publish its assets, as ``cdk deploy`` does.

The environment is bootstrapped first, as ``cdk bootstrap`` does it: the ``CDKToolkit`` stack of
the pinned CDK CLI's own template (:func:`bootstrap_template`), with the parameters the CLI
passes by default (:data:`BOOTSTRAP_PARAMETERS`). AWS CDK bootstrapping: "Before you deploy a
CDK stack into an AWS environment, the environment must first be bootstrapped"; the CLI
"retrieves the template and deploys it to AWS CloudFormation as a stack ... CDKToolkit".
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
TOOLKIT_STACK = "CDKToolkit"
# what `cdk bootstrap` passes with no options (CLI 2.1148.1, read off its CreateChangeSet)
BOOTSTRAP_PARAMETERS = {
    "TrustedAccounts": "",
    "TrustedAccountsForLookup": "",
    "CloudFormationExecutionPolicies": "",
    "FileAssetsBucketKmsKeyId": "AWS_MANAGED_KEY",
    "PublicAccessBlockConfiguration": "true",
}
_BOOTSTRAP_TEMPLATE = Path("lib", "api", "bootstrap", "bootstrap-template.yaml")  # in the aws-cdk package
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
    template_object: tuple[str, str] | None = (
        None  # (bucket, key): the template as an asset, as the CLI uploads it
    )


@functools.cache
def bootstrap_template() -> str:
    """The pinned CDK CLI's bootstrap template (``npm ci`` installs it), as ``cdk bootstrap`` deploys it.

    As JSON, the same document as the YAML file (which uses no short-form intrinsic tags): a JSON
    template is read without a YAML parser, a tenth of a second of every local cloud's deploy.
    """
    import yaml  # type: ignore[import-untyped]  # no stubs in the environment (moto brings PyYAML)

    candidates = [Path(__file__).resolve().parents[1] / "node_modules" / "aws-cdk"]
    on_path = shutil.which("cdk")
    if on_path:  # node_modules/.bin/cdk -> ../aws-cdk/bin/cdk
        candidates.append(Path(on_path).resolve().parents[1])
    for package in candidates:
        if (package / _BOOTSTRAP_TEMPLATE).is_file():
            return json.dumps(yaml.safe_load((package / _BOOTSTRAP_TEMPLATE).read_text()))
    raise AssemblyError("the CDK CLI is not installed (npm ci): its bootstrap template is what bootstraps")


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
        template_url = urlparse(
            _substitute(properties.get("stackTemplateAssetObjectUrl", ""), account, region)
        )
        stacks.append(
            StackArtifact(
                artifact_id=artifact_id,
                stack_name=properties.get("stackName", artifact_id),
                template=template,
                assets=tuple(assets),
                template_object=(template_url.netloc, template_url.path.lstrip("/"))
                if template_url.scheme == "s3"
                else None,
            )
        )
    if not stacks:
        raise AssemblyError(f"{root} holds no CloudFormation stack")
    return stacks
