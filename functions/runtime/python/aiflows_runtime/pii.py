"""The project's own PII detectors: pure functions over text, no service call.

They find emails, phone numbers, payment card numbers (checked with Luhn), IBANs
(checked with ISO 13616's mod-97) and national ids: US social security numbers,
UK National Insurance numbers, Spanish DNI and NIE (check letter) and Dutch BSN
(eleven-proof), and redact them. A pattern alone is not enough where a business
document is full of look-alikes (order numbers, part numbers, batch ids): a
number must pass its checksum, and the kinds that have none (a BSN passes the
eleven-proof one time in eleven; a national phone number looks like a part
number) also need the words that announce them, or the grouping only a phone
number has. Amazon Comprehend can add its own findings on AWS
(``aiflows_runtime.guardrails``); these run everywhere, tests included.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_NINO = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
)
_DNI = re.compile(r"(?<![\w-])(\d{8})[- ]?([A-Z])\b")
_NIE = re.compile(r"(?<![\w-])([XYZ])[- ]?(\d{7})[- ]?([A-Z])\b")
_BSN = re.compile(r"(?<![\w.])(\d{4}\.\d{2}\.\d{3}|\d{9})(?![\w.])")
_BSN_CONTEXT = re.compile(r"(bsn|burgerservicenummer|sofi-?nummer)\W{0,3}$", re.I)

# Phones: international (+CC or 00CC), a US (415) 555-0134 shape, or a national number that
# either says it is one (the words before it) or is grouped as only a phone number is.
# one character class, then a look-behind: a long digit run has one way to match, not 2^n
_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+./-])(?:\+|00)[1-9][\d ().\-]{6,24}(?<=\d)(?![\w])")
_PHONE_US = re.compile(r"(?<![\w+])(?:\(\d{3}\) ?|\d{3}-)\d{3}-\d{4}(?![\w-])")
_PHONE_NATIONAL = re.compile(r"(?<![\w+./-])\(?\d{2,5}\)?(?:[ ./-]\d{2,8}){0,4}(?![\w]|[.-]\d)")
_PHONE_GROUPED = re.compile(r"^\(?0\d{1,4}\)?(?: \d{2,6}){1,4}$")
_CODE_BEFORE = re.compile(r"\w*\d\w*\s*$")  # "A32 03 7712 0419" is a tracking code, not a phone
_PHONE_CONTEXT = re.compile(
    r"(phone|mobile|mobil|cell|tel|tél|telefon|téléphone|telefono|teléfono|telefoon|móvil|movil|"
    r"call(?: me| us)?(?: back)?(?: on| at)?|ring|reach(?:ed)?(?: me| us)?(?: on| at)?|"
    r"contact(?:o|ez [\w ]+)?|(?:phone|contact|callback|mobile) number|line|rückruf unter|unter|"
    r"bellen naar|bereikbaar op|op|joindre au|rappeler au|au|llame al|llamemos al|al|on|"
    r"[TMF])\W{0,4}$",
    re.I,
)


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


def _eleven_proof(digits: str) -> bool:
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return len(digits) == 9 and sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11 == 0


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _cards(text: str) -> list[PiiMatch]:
    found = []
    for match in _CARD.finditer(text):
        digits = _digits(match.group(0))
        if 13 <= len(digits) <= 19 and _luhn(digits):
            found.append(PiiMatch("card_number", match.start(), match.end()))
    return found


def _national_ids(text: str) -> list[PiiMatch]:
    found = [PiiMatch("national_id", m.start(), m.end()) for m in _SSN.finditer(text)]
    found += [PiiMatch("national_id", m.start(), m.end()) for m in _NINO.finditer(text)]
    for m in _DNI.finditer(text):
        if _DNI_LETTERS[int(m.group(1)) % 23] == m.group(2):
            found.append(PiiMatch("national_id", m.start(), m.end()))
    for m in _NIE.finditer(text):
        number = str("XYZ".index(m.group(1))) + m.group(2)
        if _DNI_LETTERS[int(number) % 23] == m.group(3):
            found.append(PiiMatch("national_id", m.start(), m.end()))
    for m in _BSN.finditer(text):
        if _eleven_proof(_digits(m.group(0))) and _BSN_CONTEXT.search(
            text[max(0, m.start() - 40) : m.start()]
        ):
            found.append(PiiMatch("national_id", m.start(), m.end()))
    return found


def _phones(text: str) -> list[PiiMatch]:
    found = []
    for pattern in (_PHONE_INTERNATIONAL, _PHONE_US):
        for m in pattern.finditer(text):
            value = m.group(0).rstrip(" .-")
            if 8 <= len(_digits(value)) <= 15:
                found.append(PiiMatch("phone", m.start(), m.start() + len(value)))
    for m in _PHONE_NATIONAL.finditer(text):
        value = m.group(0).rstrip(" .-/")
        if not 9 <= len(_digits(value)) <= 12:
            continue
        announced = _PHONE_CONTEXT.search(text[max(0, m.start() - 30) : m.start()])
        grouped = _PHONE_GROUPED.match(value) and not _CODE_BEFORE.search(
            text[max(0, m.start() - 40) : m.start()]
        )
        if announced or grouped:
            found.append(PiiMatch("phone", m.start(), m.start() + len(value)))
    return found


def find_pii(text: str) -> list[PiiMatch]:
    """Every PII match, longest first where two overlap, in text order."""
    found = [PiiMatch("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    found += [PiiMatch("iban", m.start(), m.end()) for m in _IBAN.finditer(text) if _iban(m.group(0))]
    found += _cards(text) + _national_ids(text) + _phones(text)
    # where two kinds claim the same text, the one with a checksum wins, then the longer
    rank = {"iban": 0, "card_number": 1, "national_id": 2, "email": 3, "phone": 4}
    starts: list[int] = []  # the kept matches, sorted by start: an overlap check is a bisect
    kept: list[PiiMatch] = []
    for match in sorted(found, key=lambda m: (rank[m.kind], -(m.end - m.start), m.start)):
        at = bisect.bisect_left(starts, match.start)
        if (at and kept[at - 1].end > match.start) or (at < len(kept) and kept[at].start < match.end):
            continue
        starts.insert(at, match.start)
        kept.insert(at, match)
    return kept


def redact(text: str) -> str:
    """The text with every PII match replaced by ``[KIND]``."""
    return redact_matches(text, find_pii(text))


def redact_matches(text: str, matches: list[PiiMatch]) -> str:
    """The text with these matches (overlapping ones merged) replaced by ``[KIND]``."""
    parts, last = [], 0
    for match in sorted(matches, key=lambda m: (m.start, -m.end)):
        if match.start < last:  # overlaps the span just replaced: the span grows to cover it
            last = max(last, match.end)
            continue
        parts.append(text[last : match.start])
        parts.append(f"[{match.kind.upper()}]")
        last = match.end
    parts.append(text[last:])
    return "".join(parts)
