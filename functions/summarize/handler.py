"""summarize: a faithful summary within a word budget."""

from typing import Any

from aiflows_runtime.capability import Capability, ask_model, idempotent_step, model_use, register_context
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.observability import capability_handler

from . import logic
from .contract import SummarizeAnswer, SummarizeInput, SummarizeOutput

CAPABILITY = Capability.at(__file__)


@idempotent_step(CAPABILITY.name, defer_claim=True)  # its only effects: the gateway's
def summarize(request: SummarizeInput) -> dict[str, Any]:
    variables = logic.prompt_variables(request.document, request.max_words)
    answer = ask_model(CAPABILITY, request, request.document.tenant, variables, SummarizeAnswer)
    summary, words, truncated = logic.within_budget(answer.value.summary, request.max_words)
    return SummarizeOutput(
        summary=summary, words=words, truncated=truncated, model=model_use(answer)
    ).model_dump()


@capability_handler(CAPABILITY.name)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return summarize(request=parse_input(event, SummarizeInput))
