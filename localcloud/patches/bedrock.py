"""Bedrock in the local cloud: ``Converse`` is answered by the cloud's local model.

moto's Bedrock runtime answers Converse with a fixed text; here the local model
answers (scripts, a capability's heuristic, or an answer built from its contract),
and a scripted fault is the error Bedrock would return (throttling, a bad request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.model import ModelFault

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.bedrockruntime.responses import BedrockRuntimeResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult

    def converse(self: Any) -> ActionResult:
        request = {
            name: self._get_param(name)
            for name in ("modelId", "system", "messages", "inferenceConfig", "requestMetadata")
        }
        try:
            return ActionResult(cloud.model.converse(request))
        except ModelFault as fault:
            error = JsonRESTError(fault.code, fault.message)
            error.code = fault.status
            raise error from None

    patches.add(BedrockRuntimeResponse, "converse", converse)
