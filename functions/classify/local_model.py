"""classify in the local cloud: each label's keywords vote (a development stand-in, never deployed)."""

from __future__ import annotations

from typing import Any

from localcloud.heuristics import classify

LABEL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "amount due", "payment", "total", "vat", "bill to"),
    "contract": ("agreement", "party", "parties", "term", "termination", "governing law"),
    "complaint": ("complaint", "refund", "disappointed", "broken", "unacceptable"),
    "resume": ("experience", "education", "skills", "curriculum vitae", "employment"),
}


def answer(variables: dict[str, str]) -> dict[str, Any]:
    labels = [label.strip(' "') for label in variables["labels"].split(",")]
    return classify(variables["title"] + "\n" + variables["text"], labels, LABEL_KEYWORDS)
