"""worker, pure domain code: cut a long document into chunks and put the summaries together."""

from __future__ import annotations

import hashlib
import re

CHUNK_BYTES = 8192


def chunks(text: str, limit: int = CHUNK_BYTES) -> list[str]:
    """Paragraphs packed into chunks of at most ``limit`` bytes; a longer paragraph is cut at words."""
    pieces: list[str] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        while len(paragraph.encode()) > limit:
            cut = paragraph.rfind(" ", 0, limit) if " " in paragraph[:limit] else limit
            pieces.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if paragraph:
            pieces.append(paragraph)
    packed: list[str] = []
    for piece in pieces:
        if packed and len((packed[-1] + "\n\n" + piece).encode()) <= limit:
            packed[-1] += "\n\n" + piece
        else:
            packed.append(piece)
    return packed


def words_per_chunk(max_words: int, count: int) -> int:
    return max(5, max_words // max(1, count))


def work_id(correlation_id: str, text: str, max_words: int) -> str:
    """What names one piece of work across deliveries and retries: the run, the text and the length asked."""
    digest = hashlib.sha256(f"{correlation_id}\n{max_words}\n{text}".encode()).hexdigest()
    return digest[:32]
