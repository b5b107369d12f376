"""classify, pure domain code: what to ask, and what to make of the answer."""

from __future__ import annotations

from aiflows_runtime.contracts import Document

from .contract import ClassifyAnswer

FALLBACK_LABEL = "other"


def prompt_variables(document: Document, labels: tuple[str, ...], max_chars: int) -> dict[str, str]:
    return {
        "labels": ", ".join(labels),
        "title": document.title or "(none)",
        "text": document.body[:max_chars],
    }


def verdict(answer: ClassifyAnswer, labels: tuple[str, ...], text: str) -> ClassifyAnswer:
    """Keep the answer inside the allowed labels, and its evidence inside the document."""
    if answer.label not in labels:
        return ClassifyAnswer(label=FALLBACK_LABEL, confidence=0.0, evidence=[])
    lowered = text.lower()
    evidence = [e for e in answer.evidence if e and e.lower() in lowered]
    return ClassifyAnswer(label=answer.label, confidence=answer.confidence, evidence=evidence)
