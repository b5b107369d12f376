"""Undo the disguises an injection wears, so that one rule matches every spelling of it.

:func:`normalize` returns the text case-folded and NFKC-normalised, with zero-width
characters removed, Cyrillic and Greek look-alike letters folded to Latin (in words
that mix scripts, and in texts that are mostly Latin), spaced-out words joined
(``i g n o r e``, ``I.G.N.O.R.E``, ``f-o-r-g-e-t``) and leet-speak undone in words
that mix letters and digits (``1gn0r3`` → ``ignore``). Text hidden in an encoding
(base64 or hex runs, text written backwards, ROT13) is decoded and appended, so the
rules see it too. :class:`Disguises` says which of these it had to undo: a business
document rarely needs any of them.
"""

from __future__ import annotations

import base64
import binascii
import codecs
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
_SEPARATOR = r"[ .\-_*/|·•]"
_SPACED = re.compile(rf"(?<![^\W\d_])(?:[^\W\d_](?:{_SEPARATOR}| {{2}})){{2,}}[^\W\d_](?![^\W\d_])")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{2}[ :]?){12,}(?![0-9A-Za-z])")
# words an attack needs; text that only has them when decoded, reversed or rotated was hiding them
_MARKERS = re.compile(
    r"\b(ignore|disregard|forget|instructions|prompt|system|previous|rules|approve|reveal|override|assistant|"
    r"bypass|mode|developer|restrictions|guidelines|directives|transfer|verified|payment|password)\b"
)
_LEET_WORD = re.compile(r"\b(?=\w*[a-z])(?=\w*[0-9])[a-z0-9@$!|]{3,}\b")


@dataclass(frozen=True)
class Disguises:
    zero_width: bool = False
    lookalikes: bool = False
    spaced: bool = False
    leet: bool = False
    encoded: bool = False

    def __bool__(self) -> bool:
        return self.zero_width or self.lookalikes or self.spaced or self.leet or self.encoded

    def names(self) -> list[str]:
        return [n for n in ("zero_width", "lookalikes", "spaced", "leet", "encoded") if getattr(self, n)]


def _fold_lookalikes(text: str) -> tuple[str, bool]:
    """Fold look-alike letters: in words that mix scripts, and, in a mostly Latin text, in whole
    foreign words that fold into an attack's word ("іпѕтгυстіопѕ"). Greek or Cyrillic prose stays."""
    if not _FOREIGN.search(text):
        return text, False
    latin_text = len(_LATIN.findall(text)) > len(_FOREIGN.findall(text))
    folded, changed = [], False
    for word in re.split(r"(\s+)", text):
        if _FOREIGN.search(word):
            translated = word.translate(LOOKALIKES)
            mixed = bool(_LATIN.search(word))
            whole = latin_text and not _FOREIGN.search(translated) and bool(_MARKERS.search(translated))
            if (mixed or whole) and translated != word:  # "5 μm" mixes scripts, but nothing looked alike
                word, changed = translated, True
        folded.append(word)
    return "".join(folded), changed


def _join_spaced(text: str) -> tuple[str, bool]:
    changed = False

    def join(match: re.Match[str]) -> str:
        nonlocal changed
        run = match.group(0)
        separators = re.findall(rf"{_SEPARATOR}{{1,2}}", run)
        inner = max(set(separators), key=separators.count)  # what spaces the letters of a word
        words = run.split("  ") if inner == " " else run.split(" ")
        joined = [re.sub(_SEPARATOR, "", word) for word in words]
        if sum(map(len, joined)) < 4:
            return run
        changed = True
        return " ".join(joined)

    return _SPACED.sub(join, re.sub(r" {3,}", "  ", text)), changed


def normalize_with_disguises(text: str) -> tuple[str, Disguises]:
    # a byte-order mark at the start and soft hyphens (PDF text) are ordinary, not disguises
    text = unicodedata.normalize("NFKC", text).lstrip("\ufeff").replace("\u00ad", "")
    stripped = text.translate(ZERO_WIDTH)
    zero_width = stripped != text
    folded, lookalikes = _fold_lookalikes(stripped.casefold())
    joined, spaced = _join_spaced(folded)
    leet_words = 0

    def unleet(match: re.Match[str]) -> str:
        # only the digits leet-speak uses: ids and hashes (2, 6, 8, 9...) stay as they are
        nonlocal leet_words
        word = match.group(0)
        if set(word) & set("26789") or sum(c.isalpha() for c in word) < 2 or len(word) > 20:
            return word
        leet_words += 1
        return word.translate(LEET)

    # spaces collapse, line breaks stay: rules read a line at a time, as a person does
    unleeted = re.sub(r"[^\S\n]+", " ", _LEET_WORD.sub(unleet, joined))
    unleeted = re.sub(r" ?\n[\s]*", "\n", unleeted).strip()
    hidden = _decoded(stripped, unleeted)
    text = unleeted + (" \n " + " \n ".join(hidden) if hidden else "")
    leet = leet_words >= 2  # one odd token is an id; two are a disguise
    return text, Disguises(zero_width, lookalikes, spaced, leet, bool(hidden))


def _printable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() or c == " " for c in text)
    return text if text and letters / len(text) >= 0.8 and " " in text.strip() else None


def _decoded(original: str, normalized: str) -> list[str]:
    """Text the document hides in base64 or hex, backwards or in ROT13, when it reads as words."""
    found = []
    for match in _BASE64.finditer(original):
        chunk = match.group(0)
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if (text := _printable(raw)) is not None:
            found.append(text.casefold())
    for match in _HEX.finditer(original):
        try:
            raw = bytes.fromhex(re.sub(r"[ :]", "", match.group(0)))
        except ValueError:
            continue
        if (text := _printable(raw)) is not None:
            found.append(text.casefold())
    plain = len(_MARKERS.findall(normalized))
    for candidate in (normalized[::-1], codecs.encode(normalized, "rot13")):
        if len(_MARKERS.findall(candidate)) >= plain + 2:
            found.append(candidate)
    return found


def normalize(text: str) -> str:
    return normalize_with_disguises(text)[0]
