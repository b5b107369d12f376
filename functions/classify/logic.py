"""Document classification, pure domain code (no AWS imports).

Until the model gateway lands, the label comes from a transparent keyword
policy: each label lists the words that vote for it, and the confidence is the
share of votes the winning label received.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LABEL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "amount due", "payment", "total", "vat", "bill to"),
    "contract": ("agreement", "party", "parties", "term", "termination", "governing law"),
    "complaint": ("complaint", "refund", "disappointed", "broken", "unacceptable"),
    "resume": ("experience", "education", "skills", "curriculum vitae", "employment"),
}
FALLBACK_LABEL = "other"


@dataclass(frozen=True)
class Verdict:
    label: str
    confidence: float
    evidence: tuple[str, ...]


def classify(text: str) -> Verdict:
    lowered = text.lower()
    votes: dict[str, list[str]] = {}
    for label, keywords in LABEL_KEYWORDS.items():
        hits = [k for k in keywords if re.search(rf"\b{re.escape(k)}\b", lowered)]
        if hits:
            votes[label] = hits
    if not votes:
        return Verdict(FALLBACK_LABEL, 0.0, ())
    total = sum(len(h) for h in votes.values())
    label = max(sorted(votes), key=lambda name: len(votes[name]))
    return Verdict(label, round(len(votes[label]) / total, 4), tuple(votes[label]))
