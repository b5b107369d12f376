"""triage's logic and prompt, without AWS: python -m pytest functions/triage"""

from __future__ import annotations

from aiflows.registry import capabilities, capability_module
from aiflows_runtime.contracts import Document

logic = capability_module("triage", "logic")
contract = capability_module("triage", "contract")
DOCUMENT = Document(
    document_id="t-1", tenant="acme", title="A letter", text="Please refund order 42: it arrived broken."
)


def test_the_prompt_gets_the_title_and_the_text() -> None:
    assert logic.prompt_variables(DOCUMENT, 1000) == {"title": "A letter", "text": DOCUMENT.text}


def test_evidence_the_document_does_not_hold_is_dropped() -> None:
    answer = contract.TriageAnswer(
        priority="normal",
        category="billing",
        summary="A refund.",
        confidence=0.9,
        evidence=["arrived broken", "invented"],
    )
    assert logic.grounded(answer, DOCUMENT.body).evidence == ["arrived broken"]


def test_the_prompt_renders_what_the_logic_gives() -> None:
    prompt = capabilities()["triage"].prompt()
    rendered = prompt.render(**logic.prompt_variables(DOCUMENT, 1000))
    assert DOCUMENT.body in rendered.text
