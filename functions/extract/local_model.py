"""extract in the local cloud: one pattern per known field (a development stand-in, never deployed)."""

from __future__ import annotations

from typing import Any

from localcloud.heuristics import extract

_AMOUNT = r"(?:\d{1,3}(?:[,.]\d{3})*|\d+)(?:[.,]\d{2})?"
FIELD_PATTERNS: dict[str, str] = {
    # an invoice number holds a digit: "Invoice for the services" has none
    "invoice_number": r"\binvoice\s*(?:no\.?|number|#)?\s*:?\s*(?P<v>[A-Z0-9-]{0,15}\d[A-Z0-9-]{0,15})\b",
    "date": r"\b(?P<v>\d{4}-\d{2}-\d{2}|\d{1,2} (?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December) \d{4})\b",
    "total": rf"\b(?:total|amount due)\s*:?\s*(?P<v>{_AMOUNT})",
    "currency": r"\b(?P<v>EUR|USD|GBP|CHF|JPY)\b",
    "email": r"\b(?P<v>[\w.+-]+@[\w-]+\.[\w.-]+)\b",
    "customer": r"\bbill to\s*:?\s*(?P<v>[A-Z][\w&.,' -]{1,60}?)(?=[.\n]|$)",
}


def answer(variables: dict[str, str]) -> dict[str, Any]:
    return extract(variables["text"], [f.strip() for f in variables["fields"].split(",")], FIELD_PATTERNS)
