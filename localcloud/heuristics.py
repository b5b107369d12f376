"""What a capability's local heuristic (``functions/<name>/local_model.py``) is built from.

Transparent, deterministic stand-ins for a model's judgement, for the local cloud only:
keywords that vote for a label, patterns that find a field with its evidence, and the
most telling sentences of a text within a word budget.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or our that the this to was were "
    "will with we you your".split()
)


def classify(text: str, labels: list[str], keywords: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Each label's keywords vote, as whole words; the confidence is the winner's share."""
    lowered = text.lower()
    votes = {
        label: [k for k in keywords.get(label, ()) if re.search(rf"\b{re.escape(k)}\b", lowered)]
        for label in labels
    }
    votes = {label: hits for label, hits in votes.items() if hits}
    if not votes:
        return {"label": "other", "confidence": 0.0, "evidence": []}
    total = sum(len(hits) for hits in votes.values())
    label = max(sorted(votes), key=lambda name: len(votes[name]))
    return {"label": label, "confidence": round(len(votes[label]) / total, 4), "evidence": votes[label]}


def extract(text: str, fields: list[str], patterns: dict[str, str]) -> dict[str, Any]:
    """One regular expression per field (group ``v`` is the value); the evidence is the match."""
    found: dict[str, Any] = {}
    for name in fields:
        pattern = patterns.get(name)
        match = re.search(pattern, text, flags=re.IGNORECASE) if pattern else None
        if match:
            found[name] = {"value": match.group("v").strip(), "evidence": match.group(0).strip()}
    return {"fields": found}


def summarize(text: str, max_words: int) -> dict[str, Any]:
    """The sentences with the most frequent words, in document order, within the word budget."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]
    frequency = Counter(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)

    def score(sentence: str) -> float:
        words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOPWORDS]
        return sum(frequency[w] for w in words) / (len(words) or 1)

    ranked = sorted(range(len(sentences)), key=lambda i: (-score(sentences[i]), i))
    chosen: list[int] = []
    used = 0
    for index in ranked:
        words = len(sentences[index].split())
        if used + words <= max_words:
            chosen.append(index)
            used += words
    if not chosen and sentences:
        return {"summary": " ".join(sentences[0].split()[:max_words])}
    return {"summary": " ".join(sentences[i] for i in sorted(chosen))}
