"""The project's own PII detectors: pure functions over text, no service call.

Amazon Comprehend can detect PII on AWS, but a detector the tests can run is worth
more here: these find emails, phone numbers, IBANs (checked with ISO 13616's
mod-97) and card numbers (checked with Luhn), and redact them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    "card_number": re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
    # international (+CC) or trunk-prefixed (0…) numbers: a date or an amount is neither
    "phone": re.compile(r"(?<![\w+])(?:\+\d{1,3}|\(?0\d{1,4}\)?)(?:[ .-]?\d{2,4}){2,4}\b"),
}


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return 15 <= len(compact) <= 34 and int(number) % 97 == 1


def find_pii(text: str) -> list[PiiMatch]:
    """Every PII match, longest first where two overlap, in text order."""
    found: list[PiiMatch] = []
    for kind, pattern in _PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(0)
            digits = re.sub(r"\D", "", value)
            if kind == "card_number" and not (13 <= len(digits) <= 19 and _luhn(digits)):
                continue
            if kind == "iban" and not _iban(value):
                continue
            if kind == "phone" and not (9 <= len(digits) <= 15):
                continue
            found.append(PiiMatch(kind, match.start(), match.end()))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[PiiMatch] = []
    for match in found:
        if kept and match.start < kept[-1].end:
            continue
        kept.append(match)
    return kept


def redact(text: str) -> str:
    """The text with every PII match replaced by ``[KIND]``."""
    parts, last = [], 0
    for match in find_pii(text):
        parts.append(text[last : match.start])
        parts.append(f"[{match.kind.upper()}]")
        last = match.end
    parts.append(text[last:])
    return "".join(parts)
