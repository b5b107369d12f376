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


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("SSN 123-45-6789 on file", "123-45-6789"),
        ("NI number QQ 12 34 56 C", None),  # QQ is not an issued prefix
        ("NI number AB 12 34 56 C", "AB 12 34 56 C"),
        ("DNI 12345678Z", "12345678Z"),  # 12345678 % 23 = 14 -> Z
        ("DNI 12345678A", None),  # wrong check letter
        ("NIE X1234567L", "X1234567L"),  # 01234567 % 23 = 19 -> L
        ("BSN 111222333", "111222333"),  # passes the eleven-proof, and says it is a BSN
        ("Order 111222333 shipped", None),  # the same digits without the word: an order number
        ("SSN 000-12-3456", None),  # area 000 is never issued
    ],
)
def test_national_ids_need_their_shape_their_check_and_for_a_bsn_their_word(
    text: str, value: str | None
) -> None:
    found = [text[m.start : m.end] for m in find_pii(text) if m.kind == "national_id"]
    assert found == ([value] if value else [])


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call me on 07700 900 896 after five", "07700 900 896"),
        ("teléfono 637 56 59 39", "637 56 59 39"),
        ("Callback (415) 555-0134", "(415) 555-0134"),
        ("Part number 0451-2290-17 replaces 0451-2290-12", None),
        ("Tracking 1Z 4F8 A32 03 7712 0419", None),
    ],
)
def test_phone_numbers_are_told_from_part_numbers(text: str, phone: str | None) -> None:
    found = [text[m.start : m.end] for m in find_pii(text) if m.kind == "phone"]
    assert found == ([phone] if phone else [])


def test_overlapping_matches_from_two_detectors_are_redacted_once() -> None:
    from aiflows_runtime.pii import PiiMatch, redact_matches

    text = "mail ada@example.com now"
    matches = [PiiMatch("email", 5, 20), PiiMatch("email", 5, 8)]  # ours, and a service's shorter find
    assert redact_matches(text, matches) == "mail [EMAIL] now"


def test_partly_overlapping_matches_are_redacted_to_their_union() -> None:
    from aiflows_runtime.pii import PiiMatch, redact_matches

    text = "Call 020 7946 0958 ext 12 now"
    # ours ends at the number; a service's match runs on over the extension
    assert redact_matches(text, [PiiMatch("phone", 5, 18), PiiMatch("phone", 9, 25)]) == "Call [PHONE] now"
