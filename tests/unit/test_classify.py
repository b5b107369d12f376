"""classify's domain logic, without AWS."""

from __future__ import annotations

from aiflows.registry import capability_module
from aiflows_runtime.contracts import Document

logic = capability_module("classify", "logic")
contract = capability_module("classify", "contract")
LABELS, ClassifyAnswer = contract.LABELS, contract.ClassifyAnswer
DOCUMENT = Document(document_id="d-1", tenant="acme", title=None, text="Invoice 7. Amount due: 10 EUR.")


def test_the_prompt_gets_the_labels_the_title_and_the_text() -> None:
    variables = logic.prompt_variables(DOCUMENT, LABELS, 32768)
    assert variables == {
        "labels": "invoice, contract, complaint, resume, other",
        "title": "(none)",
        "text": DOCUMENT.text,
    }


def test_a_label_outside_the_allowed_ones_becomes_the_fallback() -> None:
    answer = ClassifyAnswer(label="poem", confidence=0.9, evidence=["invoice"])
    assert logic.verdict(answer, LABELS, DOCUMENT.text) == ClassifyAnswer(label="other", confidence=0.0)


def test_evidence_not_found_in_the_document_is_dropped() -> None:
    answer = ClassifyAnswer(label="invoice", confidence=0.8, evidence=["AMOUNT DUE", "purchase order"])
    assert logic.verdict(answer, LABELS, DOCUMENT.text).evidence == ["AMOUNT DUE"]
