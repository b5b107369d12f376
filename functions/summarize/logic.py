"""summarize, pure domain code: ask within a word budget, and hold the answer to it."""

from __future__ import annotations

import re

from aiflows_runtime.contracts import Document


def prompt_variables(document: Document, max_words: int) -> dict[str, str]:
    return {"max_words": str(max_words), "text": document.body}


def within_budget(summary: str, max_words: int) -> tuple[str, int, bool]:
    """The summary cut to the budget (at a sentence end when one fits), its words, whether it was cut."""
    words = summary.split()
    if len(words) <= max_words:
        return " ".join(words), len(words), False
    clipped = " ".join(words[:max_words])
    sentence_end = max(clipped.rfind(". "), clipped.rfind("! "), clipped.rfind("? "))
    if clipped[-1] in ".!?":
        kept = clipped
    elif sentence_end > 0:
        kept = clipped[: sentence_end + 1]
    else:
        kept = re.sub(r"[,;:]$", "", clipped) + " …"
    return kept, len(kept.replace(" …", "").split()), True
