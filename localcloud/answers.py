"""Answers derived from an output contract, for capabilities the local model has no heuristic for.

:func:`answer_from_contract` walks a pydantic model's JSON schema and builds a value that the model
accepts, grounded in the prompt's text where it can and deterministic for a given model and text.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import math
import re
import string
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, PydanticUserError, ValidationError

__all__ = ["answer_from_contract"]

Schema = dict[str, Any]

# Fields whose string values must quote the text, and fields whose Literal values are voted for.
EVIDENCE_WORDS = frozenset(
    "evidence evidences quote quotes span spans excerpt excerpts snippet snippets citation citations".split()
)
VOTE_WORDS = frozenset("label labels category categories priority priorities".split())
# Fields that read best as a few words (or, for labels, one word) rather than a sentence.
SHORT_WORDS = frozenset(
    "name names title titles type kind tag tags status currency language code customer vendor "
    "author subject topic country city".split()
)
LONG_WORDS = frozenset(
    "summary description reason reasons rationale explanation answer text body content message notes".split()
)
ID_WORDS = frozenset("id ids key keys slug slugs".split())

_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or our that the this to was were "
    "will with we you your".split()
)
_SENTENCE = re.compile(r"\S[^\n]*?(?:[.!?](?=\s|$)|$)", re.MULTILINE)
_TOKEN = re.compile(r"\S+")
_WORD = re.compile(r"[A-Za-z0-9]+")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MAX_REF_DEPTH = 2  # how many times a recursive model may nest inside itself
_FIX = (
    "write a heuristic in the capability's folder (functions/<capability>/) "
    "so the local model answers it by hand, or relax the contract"
)


class _NoValue(Exception):
    """No value fits this part of the schema; the caller may try an alternative."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class _Site:
    """Where in the answer a value goes: its path, the nearest field name, and which item it is."""

    path: str
    name: str
    variant: int = 0

    def child(self, name: str) -> _Site:
        return _Site(f"{self.path}.{name}" if self.path else name, name.lower(), self.variant)

    def item(self, index: int) -> _Site:
        return _Site(f"{self.path}[]", self.name, self.variant + index)

    @property
    def words(self) -> set[str]:
        return set(self.name.split("_")) | {self.name}


# --- public API ---------------------------------------------------------------
def answer_from_contract(model: type[BaseModel], text: str) -> dict[str, Any]:
    """A JSON-compatible answer that ``model.model_validate`` accepts, derived from its schema and ``text``.

    Raises ``ValueError`` naming the model and the field when no value can be derived for a required
    field (a pattern this module cannot satisfy, say), or when the model still rejects the answer.
    """
    schema = _schema_of(model)
    builder = _Builder(text, schema.get("$defs", {}))
    first_error: ValidationError | None = None
    for fill_optional in (True, False):  # filling optional fields can trip a model validator
        builder.fill_optional = fill_optional
        try:
            answer = builder.value(schema, _Site("", ""))
        except _NoValue as missing:
            raise ValueError(
                f"{model.__name__}: no value can be derived for the required field '{missing.path}' "
                f"({missing.reason}); {_FIX}"
            ) from None
        if not isinstance(answer, dict):
            raise ValueError(f"{model.__name__}: its schema is not an object, so it has no fields to answer")
        for _ in range(3):
            try:
                model.model_validate(answer)
            except ValidationError as error:
                first_error = first_error or error
                if not _rename_rejected_keys(answer, error):
                    break
            else:
                return answer
    assert first_error is not None  # the loop above returns unless the model rejected an answer
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in first_error.errors()
    )
    raise ValueError(
        f"{model.__name__}: the answer derived from its contract is rejected ({problems}); {_FIX}"
    )


def _schema_of(model: type[BaseModel]) -> Schema:
    try:
        return model.model_json_schema(mode="validation")
    except PydanticUserError as error:  # a field type with no JSON schema
        raise ValueError(f"{model.__name__}: its contract has no JSON schema ({error}); {_FIX}") from error


def _resolve(schema: Schema, defs: Schema) -> Schema:
    """The schema with its ``$ref`` and ``allOf`` folded in; sibling keywords (a default, say) are kept."""
    schema = dict(schema)
    ref = schema.pop("$ref", None)
    if ref is not None:
        schema = {**_resolve(defs[ref.rsplit("/", 1)[-1]], defs), **schema}
    for part in schema.pop("allOf", ()):
        schema = {**_resolve(part, defs), **schema}
    return schema


def _ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:
        ref = schema["allOf"][0].get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _types(schema: Schema) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or ())


# --- building an answer ----------------------------------------------------------
@dataclass
class _Builder:
    text: str
    defs: Schema
    fill_optional: bool = True
    _refs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sentences = list(_SENTENCE.finditer(self.text))
        self.words = [w.lower() for w in _WORD.findall(self.text) if w.lower() not in _STOPWORDS]

    # hashing: variety that depends only on the text and where the value goes
    def hash(self, site: _Site, salt: str = "") -> int:
        digest = hashlib.sha256(f"{site.path}\0{salt}\0{self.text}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def fraction(self, site: _Site) -> float:
        """A number in [0.5, 0.9], in steps of 0.01."""
        return 0.5 + (self.hash(site, str(site.variant)) % 41) / 100

    def value(self, schema: Schema, site: _Site) -> Any:
        ref = _ref_name(schema)
        if ref is not None:
            if self._refs.count(ref) >= _MAX_REF_DEPTH:
                raise _NoValue(site.path, f"{ref} nests inside itself")
            self._refs.append(ref)
            try:
                return self.value(_resolve(schema, self.defs), site)
            finally:
                self._refs.pop()
        schema = _resolve(schema, self.defs)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.choice(list(schema["enum"]), site)
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            return self.first_that_fits(options, site)
        types = _types(schema)
        if len(types) > 1:
            return self.first_that_fits([{**schema, "type": kind} for kind in types], site)
        kind = types[0] if types else None
        if kind == "object" or "properties" in schema:
            return self.object(schema, site)
        builders: dict[str | None, Callable[[Schema, _Site], Any]] = {
            "string": self.string,
            "integer": self.integer,
            "number": self.number,
            "boolean": self.boolean,
            "array": self.array,
            "null": lambda _schema, _site: None,
        }
        if kind in builders:
            return builders[kind](schema, site)
        return self.short_word(site)  # Any: a short string

    def first_that_fits(self, options: Sequence[Schema], site: _Site) -> Any:
        ordered = sorted(options, key=lambda option: _types(option) == ["null"])  # prefer X to None
        reasons = []
        for option in ordered:
            try:
                return self.value(option, site)
            except _NoValue as missing:
                reasons.append(missing.reason)
        raise _NoValue(site.path, "; ".join(reasons) or "an empty union")

    # objects: models and dicts
    def object(self, schema: Schema, site: _Site) -> dict[str, Any]:
        if "properties" in schema:
            required = set(schema.get("required", ()))
            answer: dict[str, Any] = {}
            for name, sub in schema["properties"].items():
                if name in required:
                    answer[name] = self.value(sub, site.child(name))
                elif self.fill_optional:
                    try:
                        answer[name] = self.value(sub, site.child(name))
                    except _NoValue:
                        continue  # an optional field that cannot be filled is left out
            return answer
        return self.mapping(schema, site)

    def mapping(self, schema: Schema, site: _Site) -> dict[str, Any]:
        patterned = schema.get("patternProperties") or {}
        if patterned:
            key_pattern, value_schema = next(iter(patterned.items()))
            key_schema: Schema = {"type": "string", "pattern": key_pattern}
        else:
            extra = schema.get("additionalProperties", True)
            value_schema = extra if isinstance(extra, dict) else {}
            key_schema = {"type": "string", **schema.get("propertyNames", {})}
            if extra is False:
                return {}
        low = schema.get("minProperties", 0)
        high = schema.get("maxProperties")
        count = max(low, 1) if high is None else min(max(low, 1), high)
        answer: dict[str, Any] = {}
        index = 0
        while len(answer) < count and index < count + 20:
            key_site = _Site(f"{site.path}{{}}", "key", site.variant + index)
            key = self.string(key_schema, key_site, key=True)
            index += 1
            if key in answer:
                continue
            try:
                answer[key] = self.value(value_schema, site.item(len(answer)))
            except _NoValue:
                if len(answer) >= low:
                    break
                raise
        if len(answer) < low:
            raise _NoValue(site.path, f"no {low} distinct keys")
        return answer

    # arrays: lists, sets and tuples
    def array(self, schema: Schema, site: _Site) -> list[Any]:
        prefix = schema.get("prefixItems")
        if prefix is not None:
            return [self.value(sub, site.item(i)) for i, sub in enumerate(prefix)]
        low = schema.get("minItems", 0)
        high = schema.get("maxItems")
        count = max(low, 1) if high is None else min(max(low, 1), high)
        try:
            return self.items(schema, site, count)
        except _NoValue:
            if count == low:
                raise
            return self.items(schema, site, low)

    def items(self, schema: Schema, site: _Site, count: int) -> list[Any]:
        item_schema = schema.get("items", {})
        unique = schema.get("uniqueItems", False)
        found: list[Any] = []
        index = 0
        while len(found) < count:
            if index >= count + 20:
                raise _NoValue(site.path, f"no {count} distinct items")
            item = self.value(item_schema, site.item(index))
            index += 1
            if not (unique and item in found):
                found.append(item)
        return found

    # scalars
    def choice(self, values: list[Any], site: _Site) -> Any:
        if not values:
            raise _NoValue(site.path, "an empty enum")
        ranked = values
        if site.words & VOTE_WORDS:
            votes = {i: self.count_word(str(v)) for i, v in enumerate(values) if v is not None}
            ranked = [values[i] for i in sorted(range(len(values)), key=lambda i: (-votes.get(i, 0), i))]
        return ranked[site.variant % len(ranked)]

    def count_word(self, word: str) -> int:
        if not word:
            return 0
        return len(re.findall(rf"(?<!\w){re.escape(word)}(?!\w)", self.text, flags=re.IGNORECASE))

    def boolean(self, schema: Schema, site: _Site) -> bool:
        start = schema["default"] if isinstance(schema.get("default"), bool) else self.hash(site) % 2 == 1
        return bool((int(start) + site.variant) % 2)

    def integer(self, schema: Schema, site: _Site) -> int:
        low, high = schema.get("minimum"), schema.get("maximum")
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
        if "exclusiveMinimum" in schema:
            bound = math.floor(schema["exclusiveMinimum"]) + 1
            low = bound if low is None else max(low, bound)
        if "exclusiveMaximum" in schema:
            bound = math.ceil(schema["exclusiveMaximum"]) - 1
            high = bound if high is None else min(high, bound)
        if low is None:
            low = 0 if high is None or high >= 0 else high - 100
        if high is None:
            high = low + 100
        step = schema.get("multipleOf", 1)
        if step != int(step):
            raise _NoValue(site.path, f"an integer multiple of {step}")
        first, last = math.ceil(low / step), math.floor(high / step)
        if first > last:
            raise _NoValue(site.path, f"no integer in [{low}, {high}] is a multiple of {step}")
        span = min(last - first + 1, 100)
        return int((first + (self.hash(site) + site.variant) % span) * step)

    def number(self, schema: Schema, site: _Site) -> float:
        lows = [(schema[k], k == "exclusiveMinimum") for k in ("minimum", "exclusiveMinimum") if k in schema]
        highs = [(schema[k], k == "exclusiveMaximum") for k in ("maximum", "exclusiveMaximum") if k in schema]
        low = max(lows, default=None, key=lambda bound: (bound[0], bound[1]))
        high = min(highs, default=None, key=lambda bound: (bound[0], not bound[1]))

        def fits(value: float) -> bool:
            above = low is None or (value > low[0] if low[1] else value >= low[0])
            below = high is None or (value < high[0] if high[1] else value <= high[0])
            return above and below

        share = self.fraction(site)
        if low is not None and high is not None:
            target = low[0] + (high[0] - low[0]) * share
        elif low is not None:
            target = low[0] + share * max(1.0, abs(low[0]))
        elif high is not None:
            target = high[0] - share * max(1.0, abs(high[0]))
        else:
            target = share
        step = schema.get("multipleOf")
        if step:
            places = max(0, -math.floor(math.log10(step))) + 2
            nearest = round(target / step)
            near: Iterable[int] = (nearest, nearest + 1, nearest - 1)
            if low is not None and high is not None:  # a range narrower than the step: look at all of it
                near = itertools.chain(near, range(math.ceil(low[0] / step), math.floor(high[0] / step) + 1))
            for k in itertools.islice(near, 1000):
                if fits(round(k * step, places)):
                    return round(k * step, places)
            raise _NoValue(site.path, f"no multiple of {step} within the bounds")
        for places in (2, 4, 6, 9):
            if fits(round(target, places)):
                return round(target, places)
        if fits(target):
            return target
        raise _NoValue(site.path, "the number's bounds leave no room")

    # strings
    def string(self, schema: Schema, site: _Site, key: bool = False) -> str:
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if high is not None and high < low:
            raise _NoValue(site.path, f"minLength {low} is above maxLength {high}")

        def fits(value: str) -> bool:
            return len(value) >= low and (high is None or len(value) <= high)

        pattern = schema.get("pattern")
        media = schema.get("contentMediaType")
        if media == "application/json":
            encoded = json.dumps(self.value(schema.get("contentSchema", {}), site))
            if fits(encoded):
                return encoded
            raise _NoValue(site.path, "the JSON value does not fit the length bounds")
        formatted = self.formatted(schema.get("format"), site)
        if formatted is not None and fits(formatted) and _matches(pattern, formatted):
            return formatted
        if pattern is not None:
            return self.patterned(pattern, site, low, high)
        if key:
            return _crop(self.key_word(site.variant), low, high, self.words)
        if site.words & EVIDENCE_WORDS:
            quote = self.quote(site, low, high)
            if quote is not None:
                return quote
        if site.words & ID_WORDS or site.name.endswith("_id"):
            return _crop(self.slug("-", site), low, high, self.words)
        if site.words & VOTE_WORDS:
            return _crop(self.short_word(site), low, high, self.words)
        budget = 3 if site.words & SHORT_WORDS else 30 if site.words & LONG_WORDS else 12
        return _crop(self.phrase(site, budget), low, high, self.words)

    def formatted(self, name: str | None, site: _Site) -> str | None:
        """A value for the string formats pydantic emits; ``None`` for formats with no special form."""
        if name is None:
            return None
        when = self.date(site)
        found_email = _EMAIL.search(self.text)
        forms = {
            "date": when.isoformat(),
            "date-time": f"{when.isoformat()}T09:00:00Z",
            "time": "09:00:00",
            "duration": "PT1H",
            "uuid": str(uuid.UUID(bytes=hashlib.sha256(f"{site.path}\0{self.text}".encode()).digest()[:16])),
            "email": found_email.group(0) if found_email else "someone@example.org",
            "uri": f"https://example.org/{self.slug('-', site) or 'item'}",
            "ipv4": "192.0.2.1",
            "ipv6": "2001:db8::1",
            "ipvanyaddress": "192.0.2.1",
            "ipv4network": "192.0.2.0/24",
            "ipvanynetwork": "192.0.2.0/24",
            "ipv4interface": "192.0.2.1/24",
            "ipvanyinterface": "192.0.2.1/24",
        }
        return forms.get(name)

    def date(self, site: _Site) -> datetime.date:
        for match in _ISO_DATE.finditer(self.text):
            try:
                return datetime.date(*map(int, match.groups()))
            except ValueError:
                continue
        return datetime.date(2024, 1, 1) + datetime.timedelta(days=self.hash(site) % 365)

    def patterned(self, pattern: str, site: _Site, low: int, high: int | None) -> str:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise _NoValue(site.path, f"pattern {pattern!r} does not compile ({error})") from None

        def fits(value: str) -> bool:
            return len(value) >= low and (high is None or len(value) <= high) and bool(compiled.search(value))

        digest = hashlib.sha256(f"{site.path}\0{self.text}".encode()).hexdigest()
        grounded = [token.strip(".,;:!?()[]\"'") for token in _TOKEN.findall(self.text)[:200]]
        for candidate in (
            *(self.slug(sep, site) for sep in ("-", "_", ".", "")),
            *self.words[:50],
            *grounded,
            digest,
            digest.upper(),
            str(int(digest[:15], 16)),
        ):
            if candidate and fits(candidate):
                return candidate
        try:
            tree = _RegexParser(pattern).parse()
        except _Unsupported as unsupported:
            raise _NoValue(site.path, f"pattern {pattern!r} uses {unsupported}") from None
        chooser = _Chooser(digest)
        for stretch in range(max(64, low + 2)):
            candidate = tree.render(stretch, chooser)
            if high is not None and len(candidate) > high:
                break  # longer stretches only make longer strings
            if fits(candidate):
                return candidate
        raise _NoValue(site.path, f"no string of the allowed length matches pattern {pattern!r}")

    # text taken from the prompt
    def sentence(self, variant: int) -> re.Match[str] | None:
        return self.sentences[variant % len(self.sentences)] if self.sentences else None

    def quote(self, site: _Site, low: int, high: int | None) -> str | None:
        """A short exact substring of the text: the first words of a sentence, within the bounds."""
        if not self.sentences or len(self.text) < max(low, 1):
            return None
        if site.variant < len(self.sentences):
            start = self.sentences[site.variant].start()
        else:  # more items than sentences: start at a later word
            starts = [token.start() for token in _TOKEN.finditer(self.text)]
            start = starts[site.variant % len(starts)]
        rest = _SENTENCE.match(self.text, start)  # a sentence starts at any word
        tokens = list(_TOKEN.finditer(rest.group(0).rstrip() if rest else self.text[start:]))[:8]
        end = start + tokens[-1].end()
        while high is not None and end - start > high and len(tokens) > 1:
            tokens.pop()
            end = start + tokens[-1].end()
        if high is not None and end - start > high:
            end = start + high
        if end - start < low:
            end = start + low
            if end > len(self.text):
                start, end = len(self.text) - low, len(self.text)
        return self.text[start:end]

    def phrase(self, site: _Site, budget: int) -> str:
        sentence = self.sentence(site.variant)
        words = sentence.group(0).split()[:budget] if sentence else site.name.split("_")
        words = [word for word in words if word] or ["value"]
        if site.variant >= max(len(self.sentences), 1):  # more items than sentences: keep them distinct
            words.append(f"({site.variant + 1})")
        return " ".join(words)

    def short_word(self, site: _Site) -> str:
        words = self.words or [site.name.split("_")[0] or "value"]
        word = words[site.variant % len(words)]
        return word if site.variant < len(words) else f"{word}{site.variant + 1}"

    def key_word(self, variant: int) -> str:
        distinct = list(dict.fromkeys(self.words))
        if variant < len(distinct):
            return distinct[variant]
        return "key" if variant == 0 else f"key{variant + 1}"

    def slug(self, separator: str, site: _Site) -> str:
        sentence = self.sentence(site.variant)
        words = _WORD.findall(sentence.group(0).lower())[:3] if sentence else []
        return separator.join(words)


def _matches(pattern: str | None, value: str) -> bool:
    try:
        return pattern is None or re.search(pattern, value) is not None
    except re.error:
        return False


def _crop(value: str, low: int, high: int | None, filler: Sequence[str]) -> str:
    """The value cut to ``high`` characters at a word boundary, or lengthened to ``low`` with more words."""
    if high is not None and len(value) > high:
        kept = ""
        for word in value.split():
            if len(kept) + len(word) + (1 if kept else 0) > high:
                break
            kept = f"{kept} {word}" if kept else word
        value = kept or value[:high]
    words = list(filler) or ["value"]
    index = 0
    while len(value) < low:
        value = f"{value} {words[index % len(words)]}" if value else words[index % len(words)]
        index += 1
    return value if high is None else value[:high]


def _rename_rejected_keys(answer: dict[str, Any], error: ValidationError) -> bool:
    """Rename the dict keys the model rejected (``dict[int, X]`` keys, say) to numbers; whether any was."""
    renamed = False
    for problem in error.errors():
        where = problem["loc"]
        if len(where) < 2 or where[-1] != "[key]":
            continue
        container: Any = answer
        try:
            for step in where[:-2]:
                container = container[step]
        except (KeyError, IndexError, TypeError):
            continue
        key = where[-2]
        if isinstance(container, dict) and key in container:
            number = next(str(n) for n in range(1, len(container) + 2) if str(n) not in container)
            container[number] = container.pop(key)
            renamed = True
    return renamed


# --- describing a shape -----------------------------------------------------------
class _Unsupported(Exception):
    """A regular-expression construct the pattern renderer does not handle (lookarounds, say)."""


_PRINTABLE = string.ascii_letters + string.digits + "-_." + string.punctuation.replace("-", "") + " "


class _Chooser:
    """Deterministic choices from a seed: the same seed makes the same string."""

    def __init__(self, seed: str) -> None:
        self._stream = self._numbers(seed)

    @staticmethod
    def _numbers(seed: str) -> Iterator[int]:
        counter = 0
        while True:
            yield from hashlib.sha256(f"{seed}:{counter}".encode()).digest()
            counter += 1

    def pick(self, options: str) -> str:
        return options[next(self._stream) % len(options)]


@dataclass(frozen=True)
class _Chars:
    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def holds(self, char: str) -> bool:
        inside = any(low <= ord(char) <= high for low, high in self.ranges)
        return inside != self.negated

    def render(self, stretch: int, chooser: _Chooser) -> str:
        allowed = "".join(c for c in _PRINTABLE if self.holds(c))
        alphanumeric = "".join(c for c in allowed if c.isalnum())
        if alphanumeric or allowed:
            return chooser.pick(alphanumeric or allowed)
        if not self.negated and self.ranges:
            return chr(self.ranges[0][0])
        raise _Unsupported("a character class with no printable character")


@dataclass(frozen=True)
class _Sequence:
    parts: tuple[Any, ...]

    def render(self, stretch: int, chooser: _Chooser) -> str:
        return "".join(part.render(stretch, chooser) for part in self.parts)


@dataclass(frozen=True)
class _Either:
    options: tuple[Any, ...]

    def render(self, stretch: int, chooser: _Chooser) -> str:
        return self.options[0].render(stretch, chooser)  # the first alternative, as Literal prefers its first


@dataclass(frozen=True)
class _Repeat:
    part: Any
    low: int
    high: int | None

    def render(self, stretch: int, chooser: _Chooser) -> str:
        count = max(self.low, 1) + stretch if self.high is None else min(self.high, self.low + stretch)
        return "".join(self.part.render(stretch, chooser) for _ in range(count))


_CLASS_ESCAPES = {
    "d": ((48, 57),),
    "w": ((48, 57), (65, 90), (95, 95), (97, 122)),
    "s": ((32, 32), (9, 10), (13, 13)),
}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")


class _RegexParser:
    """Reads a small subset of regular expressions: literals, classes, groups, alternation, quantifiers."""

    def __init__(self, pattern: str) -> None:
        self.source, self.at = pattern, 0

    def parse(self) -> Any:
        tree = self.alternation()
        if self.at != len(self.source):
            raise _Unsupported(f"an unbalanced ')' at {self.at}")
        return tree

    def peek(self) -> str:
        return self.source[self.at] if self.at < len(self.source) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise _Unsupported("a pattern that ends too early")
        self.at += 1
        return char

    def alternation(self) -> Any:
        options = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else _Either(tuple(options))

    def sequence(self) -> _Sequence:
        parts = []
        while self.peek() and self.peek() not in "|)":
            parts.append(self.quantified(self.atom()))
        return _Sequence(tuple(parts))

    def quantified(self, part: Any) -> Any:
        char = self.peek()
        bounds: tuple[int, int | None] | None = None
        if char in ("*", "+", "?"):
            self.at += 1
            bounds = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        elif char == "{":
            match = _QUANTIFIER.match(self.source, self.at)
            if match and (match.group(1) or match.group(3)):
                self.at = match.end()
                low = int(match.group(1) or 0)
                high = None if match.group(2) and not match.group(3) else int(match.group(3) or low)
                bounds = (low, high)
        if bounds is None:
            return part
        if self.peek() in ("?", "+"):
            self.at += 1  # lazy and possessive forms match the same strings
        return _Repeat(part, *bounds)

    def atom(self) -> Any:
        char = self.take()
        if char in "^$":
            return _Sequence(())
        if char == ".":
            return _Chars(((10, 10),), negated=True)
        if char == "[":
            return self.char_class()
        if char == "(":
            return self.group()
        if char == "\\":
            return self.escape(in_class=False)
        if char in "*+?":
            raise _Unsupported(f"a '{char}' with nothing to repeat")
        return _Chars(((ord(char), ord(char)),))

    def group(self) -> Any:
        if self.peek() == "?":
            self.at += 1
            kind = self.take()
            if (kind == "P" and self.peek() == "<") or (kind == "<" and self.peek() not in ("=", "!")):
                end = self.source.find(">", self.at)
                if end < 0:
                    raise _Unsupported("an unterminated group name")
                self.at = end + 1
            elif kind != ":":
                raise _Unsupported(f"the group '(?{kind}' (lookarounds, flags and the like)")
        inner = self.alternation()
        if self.take() != ")":
            raise _Unsupported("an unterminated group")
        return inner

    def escape(self, in_class: bool) -> Any:
        char = self.take()
        if char in _CLASS_ESCAPES:
            return _Chars(_CLASS_ESCAPES[char])
        if char.lower() in _CLASS_ESCAPES and not in_class:
            return _Chars(_CLASS_ESCAPES[char.lower()], negated=True)
        if char in "AZz" and not in_class:
            return _Sequence(())
        if char in _CHAR_ESCAPES:
            return _Chars(((ord(_CHAR_ESCAPES[char]),) * 2,))
        if char in "xu":
            width = 2 if char == "x" else 4
            digits = self.source[self.at : self.at + width]
            if len(digits) != width or not all(c in string.hexdigits for c in digits):
                raise _Unsupported(f"a malformed '\\{char}' escape")
            self.at += width
            return _Chars(((int(digits, 16),) * 2,))
        if char.isalnum():
            raise _Unsupported(f"the escape '\\{char}' (word boundaries, back-references and the like)")
        return _Chars(((ord(char), ord(char)),))

    def char_class(self) -> _Chars:
        negated = self.peek() == "^"
        if negated:
            self.at += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while first or self.peek() != "]":
            first = False
            low = self.class_member()
            if isinstance(low, _Chars):
                ranges.extend(low.ranges)
                continue
            if self.peek() == "-" and self.source[self.at + 1 : self.at + 2] not in ("]", ""):
                self.at += 1
                high = self.class_member()
                if isinstance(high, _Chars) or ord(high) < ord(low):
                    raise _Unsupported("a malformed range in a character class")
                ranges.append((ord(low), ord(high)))
            else:
                ranges.append((ord(low), ord(low)))
        self.at += 1
        return _Chars(tuple(ranges), negated)

    def class_member(self) -> str | _Chars:
        char = self.take()
        if char != "\\":
            return char
        escaped: _Chars = self.escape(in_class=True)
        [(low, high), *others] = escaped.ranges
        return chr(low) if low == high and not others else escaped  # one character, or a class like \\d
