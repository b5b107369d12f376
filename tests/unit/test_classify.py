"""classify: the domain logic and the handler's contract, without AWS."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from aiflows_runtime.contracts import Classification, ClassifyInput, parse_input
from aiflows_runtime.errors import InvalidInput
from tests.conftest import import_function_module

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "events" / "document_submitted.json").read_text())


logic = import_function_module("classify", "logic")


def test_an_invoice_is_labelled_invoice_with_its_evidence() -> None:
    verdict = logic.classify(SAMPLE["Detail"]["text"])
    assert verdict.label == "invoice"
    assert 0.5 < verdict.confidence <= 1.0
    assert {"invoice", "amount due", "vat"} <= set(verdict.evidence)


def test_mixed_votes_lower_the_confidence() -> None:
    verdict = logic.classify("Invoice: payment due, total 100, per the agreement.")
    assert verdict.label == "invoice"
    assert verdict.confidence == pytest.approx(3 / 4)


def test_a_text_without_any_keyword_is_other_with_zero_confidence() -> None:
    verdict = logic.classify("The weather was pleasant all week.")
    assert (verdict.label, verdict.confidence, verdict.evidence) == ("other", 0.0, ())


def test_keywords_match_whole_words_only() -> None:
    assert logic.classify("termsheet invoiced").label == "other"


def test_the_input_contract_names_every_failing_field() -> None:
    bad = {"correlation_id": "c1", "document": {"document_id": "has spaces", "text": ""}}
    with pytest.raises(InvalidInput) as raised:
        parse_input(bad, ClassifyInput)
    message = str(raised.value)
    assert "document.document_id" in message
    assert "document.tenant: Field required" in message
    assert "document.text" in message


def test_the_handler_returns_the_output_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the environment CapabilityFunction gives every function
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "AiFlows")
    handler = import_function_module("classify")
    context = SimpleNamespace(
        function_name="classify",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:classify",
        aws_request_id="r-1",
    )
    event = {"correlation_id": "c-1", "document": SAMPLE["Detail"]}
    result = handler.lambda_handler(event, context)
    assert Classification.model_validate(result).label == "invoice"
