"""classify: give a document a label with a confidence."""

from typing import Any

import logic
from aws_lambda_powertools.metrics import MetricUnit

from aiflows_runtime.contracts import Classification, ClassifyInput, parse_input
from aiflows_runtime.observability import capability_handler, metrics


@capability_handler("classify")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_input(event, ClassifyInput)
    verdict = logic.classify(request.document.text)
    metrics.add_metric(name="DocumentsClassified", unit=MetricUnit.Count, value=1)
    return Classification(
        label=verdict.label, confidence=verdict.confidence, evidence=list(verdict.evidence)
    ).model_dump()
