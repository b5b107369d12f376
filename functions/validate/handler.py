"""validate: hold the submitted document to its contract, claim-check a large text."""

from typing import Any

from aiflows_runtime.claimcheck import store_text
from aiflows_runtime.clients import client
from aiflows_runtime.contracts import ObjectRef, parse_input
from aiflows_runtime.observability import capability_handler
from aiflows_runtime.policies import guard_policy
from aiflows_runtime.settings import settings

from . import logic
from .contract import ValidateInput, ValidateOutput

CAPABILITY = "validate"


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_input(event, ValidateInput)
    document = request.document
    decision = logic.route(document, guard_policy())
    if decision.claim_check and document.text_ref is None:
        bucket = settings().claim_bucket
        if not bucket:
            raise RuntimeError("validate needs CLAIM_BUCKET to claim-check a large document")
        key = logic.claim_key(request.correlation_id, document.document_id)
        ref = ObjectRef.model_validate(store_text(client("s3"), bucket, key, document.body))
        document = document.model_copy(update={"text": None, "text_ref": ref})
    elif decision.claim_check:
        document = document.model_copy(update={"text": None})
    return ValidateOutput(
        tenant=document.tenant,
        document=document,
        size_bytes=decision.size_bytes,
        long_running=decision.long_running,
    ).model_dump(exclude_none=True)
