"""classify: a label for the document, with a confidence and its evidence."""

from typing import Any

from aiflows_runtime.capability import Capability, ask_model, idempotent_step, model_use, register_context
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.observability import capability_handler

from . import logic
from .contract import ClassifyAnswer, ClassifyInput, ClassifyOutput

CAPABILITY = Capability.at(__file__)


@idempotent_step(CAPABILITY.name, defer_claim=True)  # its only effects: the gateway's
def classify(request: ClassifyInput) -> dict[str, Any]:
    variables = logic.prompt_variables(request.document, request.labels, request.max_chars)
    answer = ask_model(CAPABILITY, request, request.document.tenant, variables, ClassifyAnswer)
    verdict = logic.verdict(answer.value, request.labels, request.document.body)
    return ClassifyOutput(**verdict.model_dump(), model=model_use(answer)).model_dump()


@capability_handler(CAPABILITY.name)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return classify(request=parse_input(event, ClassifyInput))
