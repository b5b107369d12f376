"""Input validation: is this text what a document step may take? Size, type and encoding.

The contract (``Document``) already holds the shape; these checks look at the text
itself: too large, a content type the flow does not take, text that is really binary
data, control characters, or the marks of a wrong decoding upstream (U+FFFD).
"""

from __future__ import annotations

import unicodedata

from aiflows_runtime.policies import InputChecks

_BINARY_SIGNATURES = ("%PDF-", "PK\x03\x04", "\x89PNG", "GIF8", "\xff\xd8\xff", "MZ\x90")
_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f"}


def input_problems(text: str, content_type: str, checks: InputChecks) -> list[str]:
    """What is wrong with the input, one line per problem; empty when nothing is."""
    problems = []
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        problems.append("encoding: the text holds unpaired surrogates (not valid Unicode)")
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > checks.max_text_bytes:
        problems.append(f"size: {size} bytes, over the limit of {checks.max_text_bytes}")
    if content_type not in checks.content_types:
        problems.append(f"type: {content_type!r} is not one of {list(checks.content_types)}")
    if text.startswith(_BINARY_SIGNATURES):
        problems.append("type: the text starts with a binary file signature")
    replacements = text.count("\ufffd")
    if replacements > checks.max_replacement_chars:
        problems.append(f"encoding: {replacements} replacement characters (decoded with the wrong encoding)")
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS)
    if controls:
        problems.append(f"encoding: {controls} control characters (NUL or other C0/C1 codes)")
    printable = sum(1 for c in text if c.isprintable() or c in _ALLOWED_CONTROLS)
    if text and printable / len(text) < checks.min_printable_ratio:
        problems.append(f"type: only {printable / len(text):.0%} of the characters are printable text")
    return problems
