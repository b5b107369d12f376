"""triage, pure domain code: what to ask, and what to make of the answer."""

from __future__ import annotations

from aiflows_runtime.contracts import Document

from .contract import TriageAnswer


def prompt_variables(document: Document, max_chars: int) -> dict[str, str]:
    return {"title": document.title or "(none)", "text": document.body[:max_chars]}


def grounded(answer: TriageAnswer, text: str) -> TriageAnswer:
    """Keep only the evidence the document really holds."""
    lowered = text.lower()
    return answer.model_copy(update={"evidence": [e for e in answer.evidence if e and e.lower() in lowered]})
