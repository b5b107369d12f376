"""Bedrock Guardrails in the local cloud: the stack's guardrail, its versions, and ApplyGuardrail.

- moto's CloudFormation does not model ``AWS::Bedrock::Guardrail`` or ``AWS::Bedrock::GuardrailVersion``
  (moto's Bedrock has no guardrails at all): it skipped them, so the guard's ``BEDROCK_GUARDRAIL_ID``
  and ``BEDROCK_GUARDRAIL_VERSION`` (``Fn::GetAtt``) resolved to nothing. Here the guardrail is created
  in the cloud's local model (:class:`localcloud.model.LocalGuardrails`) with the properties of its
  template, and each version publishes a snapshot of it. They resolve as CloudFormation documents:
  a guardrail's ``Fn::GetAtt`` gives ``GuardrailArn``, ``GuardrailId``, ``Version`` (``DRAFT``),
  ``Status`` (``READY``), ``CreatedAt`` and ``UpdatedAt``, its ``Ref`` the ARN; a version's ``Ref`` is
  ``<guardrail id>|<version>``, its ``Fn::GetAtt`` ``GuardrailArn``, ``GuardrailId`` and ``Version``
  (``1``, ``2``…, in the order they were published). A redeploy updates a guardrail in place (its id
  stays, its DRAFT changes); a version is replaced, as every change to one requires.
- moto's bedrock-runtime does not answer ``ApplyGuardrail`` (``POST /guardrail/{id}/version/{v}/apply``):
  here the local model applies the guardrail's configuration (its prompt-attack filter and its PII
  entities) and answers in ApplyGuardrail's response shape.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from localcloud.model import LocalGuardrail, LocalGuardrails, ModelFault
from localcloud.patches import ResourceModel

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

GUARDRAIL = "AWS::Bedrock::Guardrail"
GUARDRAIL_VERSION = "AWS::Bedrock::GuardrailVersion"


def _new_id() -> str:
    """A guardrail id as Bedrock makes them: twelve lowercase letters and digits."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


def models(store: LocalGuardrails) -> dict[str, Any]:
    """The two resource models, over one cloud's guardrails (no module global: the store is passed)."""

    class LocalGuardrailResource(ResourceModel):
        """``AWS::Bedrock::Guardrail``: created in the local model, as CloudFormation creates it."""

        TYPE = GUARDRAIL
        ATTRIBUTES = ("GuardrailArn", "GuardrailId", "Version", "Status", "CreatedAt", "UpdatedAt")

        def __init__(self, guardrail: LocalGuardrail, created: str) -> None:
            self.guardrail, self.created, self.updated = guardrail, created, created

        @property
        def physical_resource_id(self) -> str:
            return self.guardrail.arn

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return {
                "GuardrailArn": self.guardrail.arn,
                "GuardrailId": self.guardrail.guardrail_id,
                "Version": "DRAFT",
                "Status": "READY",
                "CreatedAt": self.created,
                "UpdatedAt": self.updated,
            }[attribute_name]

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> LocalGuardrailResource:
            guardrail_id = _new_id()
            arn = f"arn:aws:bedrock:{region_name}:{account_id}:guardrail/{guardrail_id}"
            guardrail = store.create(guardrail_id, arn, dict(cloudformation_json.get("Properties", {})))
            return cls(guardrail, datetime.now(UTC).isoformat())

        def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
            """UpdateGuardrail: the same id, a new DRAFT."""
            self.guardrail.draft = dict(properties)
            self.updated = datetime.now(UTC).isoformat()

        def delete(self, account_id: str, region_name: str) -> None:
            store.delete(self.guardrail.guardrail_id)

    class LocalGuardrailVersion(ResourceModel):
        """``AWS::Bedrock::GuardrailVersion``: a snapshot of the guardrail's DRAFT, numbered from 1."""

        TYPE = GUARDRAIL_VERSION
        ATTRIBUTES = ("GuardrailArn", "GuardrailId", "Version")

        def __init__(self, guardrail: LocalGuardrail, version: str, properties: dict[str, Any]) -> None:
            self.guardrail, self.version, self.properties = guardrail, version, properties

        @property
        def physical_resource_id(self) -> str:
            return f"{self.guardrail.guardrail_id}|{self.version}"

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return {
                "GuardrailArn": self.guardrail.arn,
                "GuardrailId": self.guardrail.guardrail_id,
                "Version": self.version,
            }[attribute_name]

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> LocalGuardrailVersion:
            properties = dict(cloudformation_json.get("Properties", {}))
            guardrail = store.find(str(properties["GuardrailIdentifier"]))
            return cls(guardrail, guardrail.publish(), properties)

        def replaced_by(self, properties: dict[str, Any]) -> bool:
            return dict(properties) != self.properties  # every property of a version requires one

        def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
            """Nothing changed: the same version."""

        def delete(self, account_id: str, region_name: str) -> None:
            self.guardrail.versions.pop(self.version, None)

    return {GUARDRAIL: LocalGuardrailResource, GUARDRAIL_VERSION: LocalGuardrailVersion}


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.bedrockruntime.responses import BedrockRuntimeResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult

    patches.model_resources(models(cloud.model.guardrails), by="guardrails")

    def apply_guardrail(self: Any) -> ActionResult:
        # POST /guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply
        parts = [unquote(part) for part in self.path.split("?")[0].strip("/").split("/")]
        identifier, version = parts[1], parts[3]
        try:
            return ActionResult(
                cloud.model.guardrails.apply(
                    identifier, version, self._get_param("source"), self._get_param("content") or []
                )
            )
        except ModelFault as fault:
            error = JsonRESTError(fault.code, fault.message)
            error.code = fault.status
            raise error from None

    patches.add(BedrockRuntimeResponse, "apply_guardrail", apply_guardrail)
