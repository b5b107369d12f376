"""The managed guardrails, when the deployment configures them.

- Amazon Bedrock Guardrails (``ApplyGuardrail``): set ``BEDROCK_GUARDRAIL_ID`` and
  ``BEDROCK_GUARDRAIL_VERSION``; the guard sends the text as INPUT or OUTPUT and
  reports the policies that intervened (their names and actions, not the text).
- Amazon Comprehend (``DetectPiiEntities``): set ``COMPREHEND_PII_LANGUAGE`` (``en``,
  ``es``...); its entities over a confidence floor add to the project's own detectors.

Both take an injected client, so the tests hand them a stub with the service's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COMPREHEND_MAX_BYTES = 100_000  # DetectPiiEntities takes at most 100 KB of UTF-8 per call
# Comprehend's entity types that match the project's kinds; the others are reported as they are
COMPREHEND_KINDS = {
    "EMAIL": "email",
    "PHONE": "phone",
    "CREDIT_DEBIT_NUMBER": "card_number",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": "iban",
    "SSN": "national_id",
    "UK_NATIONAL_INSURANCE_NUMBER": "national_id",
    "CA_SOCIAL_INSURANCE_NUMBER": "national_id",
    "IN_AADHAAR": "national_id",
}


@dataclass(frozen=True)
class GuardrailVerdict:
    intervened: bool
    policies: tuple[
        str, ...
    ]  # e.g. "contentPolicy:PROMPT_ATTACK:BLOCKED", "sensitiveInformationPolicy:EMAIL:ANONYMIZED"


def apply_guardrail(client: Any, guardrail_id: str, version: str, text: str, source: str) -> GuardrailVerdict:
    """Ask Bedrock Guardrails about the text (``source`` is ``INPUT`` or ``OUTPUT``)."""
    answer = client.apply_guardrail(
        guardrailIdentifier=guardrail_id,
        guardrailVersion=version,
        source=source,
        content=[{"text": {"text": text}}],
    )
    policies = []
    for assessment in answer.get("assessments", []):
        for policy_name, details in assessment.items():
            if not isinstance(details, dict):
                continue
            for group in details.values():
                for item in group if isinstance(group, list) else []:
                    # the filter's type or the topic's name, never "match" (the matched text)
                    name = item.get("type") or item.get("name") or "custom_word"
                    policies.append(f"{policy_name}:{name}:{item.get('action', '')}")
    return GuardrailVerdict(answer.get("action") == "GUARDRAIL_INTERVENED", tuple(sorted(set(policies))))


@dataclass(frozen=True)
class ServicePii:
    kind: str
    start: int
    end: int
    score: float


def detect_pii_entities(client: Any, text: str, language: str, min_score: float = 0.8) -> list[ServicePii]:
    """Comprehend's PII entities over the text, in chunks the API accepts."""
    found: list[ServicePii] = []
    offset = 0
    for chunk in _chunks(text, COMPREHEND_MAX_BYTES):
        answer = client.detect_pii_entities(Text=chunk, LanguageCode=language)
        for entity in answer.get("Entities", []):
            if entity.get("Score", 0.0) >= min_score:
                kind = COMPREHEND_KINDS.get(entity["Type"], entity["Type"].lower())
                found.append(
                    ServicePii(
                        kind, offset + entity["BeginOffset"], offset + entity["EndOffset"], entity["Score"]
                    )
                )
        offset += len(chunk)
    return found


def _chunks(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at whitespace where there is some."""
    pieces, start = [], 0
    while start < len(text):
        end = start + limit // 4  # at most 4 bytes per character
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space + 1 if space > start else end
        pieces.append(text[start:end])
        start = end
    return pieces
