"""extract: the requested fields of a document, each with the span of text it came from."""

from typing import Any

from aiflows_runtime.capability import Capability, ask_model, idempotent_step, model_use, register_context
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.observability import capability_handler

from . import logic
from .contract import ExtractAnswer, ExtractInput, ExtractOutput

CAPABILITY = Capability.at(__file__)


@idempotent_step(CAPABILITY.name, defer_claim=True)  # its only effects: the gateway's
def extract(request: ExtractInput) -> dict[str, Any]:
    variables = logic.prompt_variables(request.document, request.fields, request.max_chars)
    answer = ask_model(CAPABILITY, request, request.document.tenant, variables, ExtractAnswer)
    fields, missing, unsupported = logic.ground(answer.value, request.fields, request.document.body)
    return ExtractOutput(
        fields=fields, missing=missing, unsupported=unsupported, model=model_use(answer)
    ).model_dump()


@capability_handler(CAPABILITY.name)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return extract(request=parse_input(event, ExtractInput))
