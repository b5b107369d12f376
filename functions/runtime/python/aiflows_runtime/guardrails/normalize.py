"""Undo the disguises an injection wears, so that one rule matches every spelling of it.

:func:`normalize` returns the text case-folded and NFKC-normalised, with zero-width
characters removed, Cyrillic and Greek look-alike letters folded to Latin (in words
that mix scripts, and in texts that are mostly Latin), spaced-out words joined
(``i g n o r e``, ``I.G.N.O.R.E``, ``f-o-r-g-e-t``) and leet-speak undone in words
that mix letters and digits (``1gn0r3`` → ``ignore``). :func:`disguises` says which
of these it had to undo: a business document rarely needs any of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
# Cyrillic and Greek letters that look like Latin ones (lower case; the text is folded first)
LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁһӏԛԝвкмнтгпαβεικνορτυχζηγ",
    "aeopcyxijsdhlqwbkmhtrnabeiknoptuxznr",
)
LEET = str.maketrans("013457@$!|", "oieastasil")
_LATIN = re.compile(r"[a-z]")
_FOREIGN = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")
_WORD = re.compile(r"\S+")
_SPACED = re.compile(r"(?<![^\W\d_])(?:[^\W\d_](?:[ .\-]| {2})){2,}[^\W\d_](?![^\W\d_])")
_LEET_WORD = re.compile(r"\b(?=\w*[a-z])(?=\w*[0-9])[a-z0-9@$!|]{3,}\b")


@dataclass(frozen=True)
class Disguises:
    zero_width: bool = False
    lookalikes: bool = False
    spaced: bool = False
    leet: bool = False

    def __bool__(self) -> bool:
        return self.zero_width or self.lookalikes or self.spaced or self.leet

    def names(self) -> list[str]:
        return [name for name in ("zero_width", "lookalikes", "spaced", "leet") if getattr(self, name)]


def _fold_lookalikes(text: str) -> tuple[str, bool]:
    latin = len(_LATIN.findall(text))
    foreign = len(_FOREIGN.findall(text))
    if not foreign:
        return text, False
    if latin > foreign:  # a Latin text with a few foreign letters: fold them all
        return text.translate(LOOKALIKES), True
    folded, changed = [], False
    for word in text.split(" "):  # a foreign-script text: fold only the words that mix scripts
        if _LATIN.search(word) and _FOREIGN.search(word):
            word, changed = word.translate(LOOKALIKES), True
        folded.append(word)
    return " ".join(folded), changed


def _join_spaced(text: str) -> tuple[str, bool]:
    changed = False

    def join(match: re.Match[str]) -> str:
        nonlocal changed
        run = match.group(0)
        separators = re.findall(r"[ .\-]{1,2}", run)
        inner = max(set(separators), key=separators.count)  # what spaces the letters of a word
        words = run.split("  ") if inner == " " else run.split(" ")
        joined = [re.sub(r"[ .\-]", "", word) for word in words]
        if sum(map(len, joined)) < 4:
            return run
        changed = True
        return " ".join(joined)

    return _SPACED.sub(join, re.sub(r" {3,}", "  ", text)), changed


def normalize_with_disguises(text: str) -> tuple[str, Disguises]:
    text = unicodedata.normalize("NFKC", text)
    stripped = text.translate(ZERO_WIDTH)
    zero_width = stripped != text
    folded, lookalikes = _fold_lookalikes(stripped.casefold())
    joined, spaced = _join_spaced(folded)
    leet = False

    def unleet(match: re.Match[str]) -> str:
        nonlocal leet
        word = match.group(0)
        if sum(c.isdigit() for c in word) and sum(c.isalpha() for c in word) >= 2:
            leet = True
            return word.translate(LEET)
        return word

    unleeted = _LEET_WORD.sub(unleet, joined)
    return re.sub(r"\s+", " ", unleeted).strip(), Disguises(zero_width, lookalikes, spaced, leet)


def normalize(text: str) -> str:
    return normalize_with_disguises(text)[0]
