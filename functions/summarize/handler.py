"""summarize: a faithful summary within a word budget."""

from typing import Any

import logic

from aiflows_runtime.capability import ask_model, idempotent_step, model_use, register_context
from aiflows_runtime.contracts import SummarizeAnswer, SummarizeInput, SummarizeOutput, parse_input
from aiflows_runtime.observability import capability_handler

CAPABILITY = "summarize"


@idempotent_step(CAPABILITY)
def summarize(request: SummarizeInput) -> dict[str, Any]:
    variables = logic.prompt_variables(request.document, request.max_words)
    answer = ask_model(CAPABILITY, request, request.document.tenant, variables, SummarizeAnswer)
    summary, words, truncated = logic.within_budget(answer.value.summary, request.max_words)
    return SummarizeOutput(
        summary=summary, words=words, truncated=truncated, model=model_use(answer)
    ).model_dump()


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return summarize(request=parse_input(event, SummarizeInput))
