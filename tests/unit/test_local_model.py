"""The local model's heuristics and scripts: transparent and deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiflows.registry import capabilities, capability_module
from aiflows_runtime import prompts
from localcloud.answers import answer_from_contract
from localcloud.heuristics import summarize
from localcloud.model import LocalModel, Malformed, ModelFault, Throttle, answer_for

KEYWORDS = capability_module("classify", "local_model").LABEL_KEYWORDS  # classify's own heuristic
PATTERNS = capability_module("extract", "local_model").FIELD_PATTERNS  # extract's


def classify(text: str, labels: list[str]) -> dict:
    from localcloud.heuristics import classify as vote

    return vote(text, labels, KEYWORDS)


def extract(text: str, fields: list[str]) -> dict:
    from localcloud.heuristics import extract as match

    return match(text, fields, PATTERNS)


def rendered(prompt_id: str, **variables: str) -> prompts.RenderedPrompt:
    capability, _, version = prompt_id.partition("/")
    return prompts.load(capabilities()[capability].folder, capability, version).render(**variables)


def converse(model: LocalModel, prompt_id: str, max_tokens: int = 1000, **variables: str) -> dict:
    rendered_prompt = rendered(prompt_id, **variables)
    return model.converse(
        {
            "modelId": "m",
            "system": [{"text": rendered_prompt.system}],
            "messages": [{"role": "user", "content": [{"text": rendered_prompt.text}]}],
            "inferenceConfig": {"maxTokens": max_tokens},
        }
    )


def test_classify_votes_with_whole_keywords() -> None:
    assert classify("Invoice: payment due, total 100, per the agreement.", ["invoice", "contract"]) == {
        "label": "invoice",
        "confidence": 0.75,
        "evidence": ["invoice", "payment", "total"],
    }
    assert classify("termsheet invoiced", ["invoice", "contract"])["label"] == "other"


def test_extract_reports_values_with_their_exact_evidence() -> None:
    found = extract("Bill to: ACME Corp. Total: 1,250.00 EUR", ["customer", "total", "currency", "date"])[
        "fields"
    ]
    assert found == {
        "customer": {"value": "ACME Corp", "evidence": "Bill to: ACME Corp"},
        "total": {"value": "1,250.00", "evidence": "Total: 1,250.00"},
        "currency": {"value": "EUR", "evidence": "EUR"},
    }


def test_summarize_keeps_whole_sentences_within_the_budget() -> None:
    text = "Payment is due in 30 days. The weather is nice. Payment goes to Northwind by 30 days."
    summary = summarize(text, 12)["summary"]
    assert len(summary.split()) <= 12
    assert summary.startswith("Payment")


def test_it_reads_the_same_prompts_the_handlers_render() -> None:
    model = LocalModel()
    answer = converse(
        model, "classify/v1", labels="invoice, contract", title="T", text="Invoice. Amount due: 5"
    )
    assert json.loads(answer["output"]["message"]["content"][0]["text"])["label"] == "invoice"
    assert answer["stopReason"] == "end_turn"
    usage = answer["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
    assert model.calls[0].prompt_id == "classify/v1"


def test_an_answer_over_max_tokens_is_cut_and_says_so() -> None:
    answer = converse(LocalModel(), "summarize/v1", max_tokens=5, max_words="50", text="A long text. " * 40)
    assert answer["stopReason"] == "max_tokens"
    assert answer["usage"]["outputTokens"] == 5


def test_scripts_are_consumed_in_order_per_model() -> None:
    model = LocalModel()
    model.script("m", Throttle(), Malformed(), '{"label": "contract", "confidence": 1}')
    with pytest.raises(ModelFault) as fault:
        converse(model, "classify/v1", labels="invoice", title="T", text="x")
    assert (fault.value.code, fault.value.status) == ("ThrottlingException", 429)
    malformed = converse(model, "classify/v1", labels="invoice", title="T", text="x")
    assert malformed["output"]["message"]["content"][0]["text"] == Malformed().text
    scripted = converse(model, "classify/v1", labels="invoice", title="T", text="x")
    assert json.loads(scripted["output"]["message"]["content"][0]["text"])["label"] == "contract"
    assert [c.outcome for c in model.calls] == ["throttled", "malformed", "scripted"]
    heuristic = converse(model, "classify/v1", labels="invoice", title="T", text="an invoice")
    assert json.loads(heuristic["output"]["message"]["content"][0]["text"])["label"] == "invoice"


def test_an_invoice_number_holds_a_digit() -> None:
    assert extract("Invoice for the services under the agreement", ["invoice_number"]) == {"fields": {}}
    found = extract("Services rendered. INVOICE INV-7, due in 30 days.", ["invoice_number"])["fields"]
    assert found["invoice_number"] == {"value": "INV-7", "evidence": "INVOICE INV-7"}


def test_a_capability_without_a_heuristic_gets_a_valid_answer_of_its_contract() -> None:
    # Given a capability whose folder has no local_model.py (the scaffold's start): here, one
    # whose heuristic is set aside, to see what its contract alone gives
    info = capabilities()["classify"]
    text = rendered("classify/v1", labels="invoice, contract", title="T", text="An invoice for 5 EUR").text
    derived = answer_from_contract(info.answer_model(), text)
    # Then the answer is valid, deterministic, and what the heuristic gives is something else
    info.answer_model().model_validate(derived)
    assert answer_from_contract(info.answer_model(), text) == derived
    assert answer_for("classify/v1", text) != derived


def test_a_script_file_scripts_a_running_model_by_capability(tmp_path: Path) -> None:
    # Given a model that reads a script file, which a shell appends to while it runs
    script = tmp_path / "model-script.jsonl"
    model = LocalModel(script_file=script)
    script.write_text(
        json.dumps({"for": "classify", "answer": {"label": "contract", "confidence": 0.9}})
        + "\n"
        + json.dumps({"for": "classify", "fault": "throttle"})
        + "\n"
    )
    # When the capability asks three times
    first = converse(model, "classify/v1", labels="invoice, contract", title="T", text="an invoice")
    with pytest.raises(ModelFault):
        converse(model, "classify/v1", labels="invoice, contract", title="T", text="an invoice")
    third = converse(model, "classify/v1", labels="invoice, contract", title="T", text="an invoice")
    # Then the file's lines answer in order, then the heuristic again
    text = [json.loads(a["output"]["message"]["content"][0]["text"])["label"] for a in (first, third)]
    assert text == ["contract", "invoice"]
    assert [c.outcome for c in model.calls] == ["scripted", "throttled", "ok"]
    # And a line appended later is read too; a broken one names the file and the line
    with script.open("a") as appended:
        appended.write('{"for": "classify", "fault": "sneeze"}\n')
    with pytest.raises(ValueError, match=r"model-script\.jsonl, line 3"):
        converse(model, "classify/v1", labels="invoice", title="T", text="x")
    # And once reported, the broken line is passed over; a line still being written waits for its end
    with script.open("a") as appended:
        appended.write('{"for": "classify", "answer": {"label": "invoice", ')
    assert (
        json.loads(
            converse(model, "classify/v1", labels="invoice", title="T", text="an invoice")["output"][
                "message"
            ]["content"][0]["text"]
        )["label"]
        == "invoice"
    )
    assert model.calls[-1].outcome == "ok"
