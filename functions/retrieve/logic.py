"""retrieve, pure domain code: split a corpus into passages and rank them with BM25."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will "
    "with what which who how when".split()
)


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    text: str


def passages(doc_id: str, text: str) -> list[Chunk]:
    """One passage per paragraph; a heading joins the paragraph under it."""
    chunks: list[Chunk] = []
    heading = ""
    for block in (b.strip() for b in re.split(r"\n\s*\n", text)):
        if not block:
            continue
        if block.startswith("#") and "\n" not in block:
            heading = block.lstrip("# ").strip()
            continue
        chunks.append(Chunk(doc_id, f"{heading}: {block}" if heading else block))
    return chunks


class Bm25Index:
    """Okapi BM25 over passages (k1 = 1.5, b = 0.75)."""

    def __init__(self, chunks: list[Chunk], k1: float = 1.5, b: float = 0.75) -> None:
        self.chunks = chunks
        self.k1, self.b = k1, b
        self._terms = [Counter(tokens(c.text)) for c in chunks]
        self._lengths = [sum(t.values()) for t in self._terms]
        self._average = sum(self._lengths) / len(chunks) if chunks else 0.0
        frequency: Counter[str] = Counter()
        for terms in self._terms:
            frequency.update(terms.keys())
        n = len(chunks)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def search(self, query: str, top_k: int) -> list[tuple[Chunk, float]]:
        wanted = tokens(query)
        scored = []
        for chunk, terms, length in zip(self.chunks, self._terms, self._lengths, strict=True):
            score = 0.0
            for term in wanted:
                tf = terms.get(term, 0)
                if tf:
                    norm = tf + self.k1 * (1 - self.b + self.b * length / (self._average or 1))
                    score += self._idf[term] * tf * (self.k1 + 1) / norm
            if score > 0:
                scored.append((chunk, round(score, 4)))
        scored.sort(key=lambda pair: (-pair[1], pair[0].doc_id, pair[0].text))
        return scored[:top_k]
