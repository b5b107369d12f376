"""The project's PII detectors: what they find, and what they leave alone."""

from __future__ import annotations

import pytest

from aiflows_runtime.pii import find_pii, redact

SAMPLE = (
    "Mail ada@example.com or call +44 20 7946 0958 or 020 7946 0958. "
    "IBAN GB82 WEST 1234 5698 7654 32, card 4111 1111 1111 1111."
)


def test_each_kind_is_found_and_redacted() -> None:
    assert [m.kind for m in find_pii(SAMPLE)] == ["email", "phone", "phone", "iban", "card_number"]
    assert redact(SAMPLE) == "Mail [EMAIL] or call [PHONE] or [PHONE]. IBAN [IBAN], card [CARD_NUMBER]."


@pytest.mark.parametrize(
    "text",
    [
        "Order of 2026-11-02 for 1,250.00 EUR",  # a date and an amount
        "PO 123456789",  # a bare number
        "card 4111 1111 1111 1112",  # fails Luhn
        "IBAN GB00 WEST 1234 5698 7654 32",  # fails mod-97
    ],
)
def test_look_alikes_are_not_pii(text: str) -> None:
    assert find_pii(text) == []
