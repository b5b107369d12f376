"""extract, pure domain code: ask for fields, then keep only values the document supports."""

from __future__ import annotations

from aiflows_runtime.contracts import Document, ExtractedField, Span

from .contract import ExtractAnswer


def prompt_variables(document: Document, fields: tuple[str, ...], max_chars: int) -> dict[str, str]:
    return {"fields": ", ".join(fields), "text": document.body[:max_chars]}


def locate(evidence: str, text: str) -> Span | None:
    """Where the evidence stands in the text: exactly, else ignoring case."""
    start = text.find(evidence)
    if start < 0:
        start = text.lower().find(evidence.lower())
    if start < 0 or not evidence:
        return None
    return Span(start=start, end=start + len(evidence), text=text[start : start + len(evidence)])


def ground(
    answer: ExtractAnswer, requested: tuple[str, ...], text: str
) -> tuple[dict[str, ExtractedField], list[str], list[str]]:
    """Fields with their spans; the requested fields not found; those whose evidence is not in the text.

    A value must also appear within its evidence: a model cannot cite one place and
    report another.
    """
    fields: dict[str, ExtractedField] = {}
    unsupported: list[str] = []
    for name, answered in answer.fields.items():
        if name not in requested:
            continue
        span = locate(answered.evidence, text)
        if span is None or answered.value.lower() not in span.text.lower():
            unsupported.append(name)
            continue
        fields[name] = ExtractedField(value=answered.value, evidence=span)
    missing = [name for name in requested if name not in fields and name not in unsupported]
    return fields, missing, unsupported
