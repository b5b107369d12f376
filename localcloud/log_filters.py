"""CloudWatch Logs filter patterns, as FilterLogEvents reads them.

    pattern = compile_pattern('{ $.correlation_id = "run-1" && $.level != DEBUG }')
    pattern.matches(message)   # True or False

The syntax is CloudWatch Logs' "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail" (user guide), in its three forms:

- **terms** (unstructured events): ``ERROR`` matches a message that contains the term;
  several terms must all appear; ``"a quoted phrase"`` is one term (a term with characters
  other than alphanumerics and underscore must be quoted); ``?term`` makes the ``?``-terms
  alternatives (one of them must appear); ``-term`` excludes a term; ``%regex%`` is a term
  matched by a regular expression. Terms are case sensitive. An empty pattern matches every
  event.
- **JSON** ``{ SELECTOR OPERATOR VALUE }``: the message is read as a JSON object; a
  selector (``$.key``, ``$.a.b``, ``$.list[0]``, ``$.m[0][1]``) names a value node; ``=`` and
  ``!=`` compare strings (``*`` at the start or the end is a wildcard, one in the middle is
  a star; ``%regex%`` matches by regular expression) and numbers; ``<``, ``<=``, ``>``, ``>=``
  compare numbers; ``IS TRUE``, ``IS FALSE``, ``IS NULL`` and ``NOT EXISTS`` test a value;
  ``&&`` binds tighter than ``||``, and parentheses group. A selector that names an array or
  an object, or nothing, matches no comparison.
- **space-delimited** ``[ip, user, ..., status_code = 4*, bytes > 1000]``: the message is
  split on spaces (text between ``[`` and ``]`` or between double quotes is one field, without
  them); each name stands for a field, in order; ``...`` stands for any number of fields;
  a field may carry conditions on itself (``=``, ``!=`` with wildcards or a regex, the numeric
  comparisons), joined by ``&&`` and ``||``.

A pattern that does not parse raises :class:`InvalidFilterPattern`, whose message is the one
FilterLogEvents answers with ``InvalidParameterException`` ("Invalid filter pattern", or the
more precise messages CloudWatch Logs gives, such as "If a filter pattern starts with '{' it
must end with '}'" and "Invalid character(s) in term '…'").

Regular expressions follow "Supported regular expressions (regex) syntax" of the same guide:
alphanumerics, the symbols ``: _ # = @ / ; , -`` and the operators ``^ $ ? [ ] { } | \\ * + .``;
no parentheses, no multibyte characters; FilterLogEvents takes at most two in a pattern.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

INVALID = "Invalid filter pattern"
MAX_REGEXES = 2  # "the regex limit per filter pattern is 2" (filter log events)

_TERM = re.compile(r"[A-Za-z0-9_]+")
_NAME = re.compile(r"[A-Za-z0-9_]+")
_PROPERTY = re.compile(r"[A-Za-z0-9_\-]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BARE_VALUE = re.compile(r"[A-Za-z0-9_.*+\-]+")
_REGEX_ALLOWED = re.compile(r"[A-Za-z0-9:_#=@/;,\-^$?\[\]{}|\\*+.]*")
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_MISSING = object()


class InvalidFilterPattern(ValueError):
    """The pattern does not parse; the message is what CloudWatch Logs answers."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{INVALID}: {detail}" if detail else INVALID)


Matcher = Callable[[str], bool]


@dataclass(frozen=True)
class FilterPattern:
    """A compiled filter pattern."""

    text: str
    kind: str  # "all", "terms", "json", "delimited"
    _match: Matcher

    def matches(self, message: str) -> bool:
        return self._match(message)


def compile_pattern(pattern: str | None) -> FilterPattern:
    """Parse ``pattern``; raise :class:`InvalidFilterPattern` if it is not one."""
    text = (pattern or "").strip()
    if not text:
        return FilterPattern(pattern or "", "all", lambda message: True)
    regexes = _Counter()
    if text.startswith("{"):
        if not text.endswith("}"):
            raise InvalidFilterPattern("If a filter pattern starts with '{' it must end with '}'")
        return FilterPattern(text, "json", _json_pattern(text[1:-1], regexes))
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidFilterPattern("If a filter pattern starts with '[' it must end with ']'")
        return FilterPattern(text, "delimited", _delimited_pattern(text[1:-1], regexes))
    return FilterPattern(text, "terms", _terms_pattern(text, regexes))


def matches(pattern: str | None, message: str) -> bool:
    return compile_pattern(pattern).matches(message)


# --- shared pieces ---------------------------------------------------------------------------


class _Counter:
    """The regular expressions of one pattern, at most :data:`MAX_REGEXES`."""

    def __init__(self) -> None:
        self.count = 0

    def compile(self, source: str) -> re.Pattern[str]:
        self.count += 1
        if self.count > MAX_REGEXES:
            raise InvalidFilterPattern(f"at most {MAX_REGEXES} regular expressions in a filter pattern")
        if not source or not source.isascii() or not _REGEX_ALLOWED.fullmatch(source):
            raise InvalidFilterPattern(f"Invalid regular expression '%{source}%'")
        try:
            return re.compile(source)
        except re.error:
            raise InvalidFilterPattern(f"Invalid regular expression '%{source}%'") from None


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The string of the double-quoted literal at ``start`` (backslash escapes), and the index after it."""
    assert text[start] == '"'
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise InvalidFilterPattern("Unterminated quoted string")


def _read_regex(text: str, start: int) -> tuple[str, int]:
    assert text[start] == "%"
    end = text.find("%", start + 1)
    if end < 0:
        raise InvalidFilterPattern("Unterminated regular expression")
    return text[start + 1 : end], end + 1


def _number(text: str) -> Decimal | None:
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _wildcard(value: str) -> Callable[[str], bool]:
    """``*`` at the start or the end of a value matches any text there; elsewhere it is a star."""
    if value == "*":
        return lambda actual: True
    prefix, suffix = value.startswith("*"), value.endswith("*")
    core = value[1 if prefix else 0 : len(value) - 1 if suffix else len(value)]
    if prefix and suffix:
        return lambda actual: core in actual
    if prefix:
        return lambda actual: actual.endswith(core)
    if suffix:
        return lambda actual: actual.startswith(core)
    return lambda actual: actual == value


# --- terms ---------------------------------------------------------------------------------


def _terms_pattern(text: str, regexes: _Counter) -> Matcher:
    required: list[Matcher] = []
    excluded: list[Matcher] = []
    optional: list[Matcher] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        sign = ""
        if text[i] in "?-":
            sign = text[i]
            i += 1
            while i < n and text[i].isspace():  # the guide writes "ERROR" - "Exiting"
                i += 1
            if i >= n:
                raise InvalidFilterPattern(f"Invalid character(s) in term '{sign}'")
        if text[i] == '"':
            phrase, i = _read_quoted(text, i)
            if not phrase:
                raise InvalidFilterPattern("Invalid character(s) in term '\"\"'")
            matcher: Matcher = _contains(phrase)
        elif text[i] == "%":
            source, i = _read_regex(text, i)
            matcher = _searches(regexes.compile(source))
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            term = text[start:i]
            if not _TERM.fullmatch(term):
                bad = "".join(sorted({c for c in term if not (c.isascii() and (c.isalnum() or c == "_"))}))
                raise InvalidFilterPattern(f"Invalid character(s) in term '{bad or term}'")
            matcher = _contains(term)
        if i < n and not text[i].isspace():
            raise InvalidFilterPattern(f"Invalid character(s) in term '{text[i]}'")
        {"": required, "-": excluded, "?": optional}[sign].append(matcher)

    def match(message: str) -> bool:
        return (
            all(m(message) for m in required)
            and not any(m(message) for m in excluded)
            and (not optional or any(m(message) for m in optional))
        )

    return match


def _contains(term: str) -> Matcher:
    return lambda message: term in message


def _searches(regex: re.Pattern[str]) -> Matcher:
    return lambda message: regex.search(message) is not None


# --- JSON ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "&&", "||", "op", "selector", "string", "regex", "word"
    value: Any
    quoted: bool = False


def _json_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char))
            i += 1
        elif text.startswith("&&", i) or text.startswith("||", i):
            tokens.append(_Token(text[i : i + 2], text[i : i + 2]))
            i += 2
        elif char == "$":
            path, i = _read_selector(text, i)
            tokens.append(_Token("selector", path))
        elif char == '"':
            value, i = _read_quoted(text, i)
            tokens.append(_Token("string", value, quoted=True))
        elif char == "%":
            source, i = _read_regex(text, i)
            tokens.append(_Token("regex", source))
        elif any(text.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if text.startswith(op, i))
            tokens.append(_Token("op", op))
            i += len(op)
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"%' and not _at_operator(text, i):
                i += 1
            word = text[start:i]
            if not _BARE_VALUE.fullmatch(word):
                raise InvalidFilterPattern(f"Invalid character(s) in term '{word}'")
            tokens.append(_Token("word", word))
    return tokens


def _at_operator(text: str, i: int) -> bool:
    return text.startswith("&&", i) or text.startswith("||", i) or text[i] in "=!<>"


def _read_selector(text: str, start: int) -> tuple[tuple[str | int, ...], int]:
    """``$.a.b[0]`` as ("a", "b", 0): properties follow ``.``, indexes ``[N]`` follow a property."""
    i, n = start + 1, len(text)
    path: list[str | int] = []
    while i < n and text[i] in ".[":
        if text[i] == ".":
            found = _PROPERTY.match(text, i + 1)
            if not found:
                raise InvalidFilterPattern(f"Invalid selector '{text[start : i + 1]}'")
            path.append(found.group())
            i = found.end()
        else:
            close = text.find("]", i)
            index = text[i + 1 : close] if close > 0 else ""
            if not path or not index.isdigit():
                raise InvalidFilterPattern(
                    f"Invalid selector '{text[start : close + 1 if close > 0 else n]}'"
                )
            path.append(int(index))
            i = close + 1
    if not path:
        raise InvalidFilterPattern("A selector names a property: $.key")
    return tuple(path), i


def _select(document: Any, path: Sequence[str | int]) -> Any:
    node = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
    return node


JsonTest = Callable[[Any], bool]


class _JsonParser:
    """``or := and ('||' and)*``, ``and := atom ('&&' atom)*``, ``atom := '(' or ')' | condition``."""

    def __init__(self, tokens: list[_Token], regexes: _Counter) -> None:
        self.tokens = tokens
        self.at = 0
        self.regexes = regexes

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (kind is not None and token.kind != kind):
            raise InvalidFilterPattern()
        self.at += 1
        return token

    def parse(self) -> JsonTest:
        if not self.tokens:
            raise InvalidFilterPattern()
        test = self.disjunction()
        if self.peek() is not None:
            raise InvalidFilterPattern()
        return test

    def disjunction(self) -> JsonTest:
        tests = [self.conjunction()]
        while (token := self.peek()) is not None and token.kind == "||":
            self.take()
            tests.append(self.conjunction())
        return tests[0] if len(tests) == 1 else (lambda doc: any(t(doc) for t in tests))

    def conjunction(self) -> JsonTest:
        tests = [self.atom()]
        while (token := self.peek()) is not None and token.kind == "&&":
            self.take()
            tests.append(self.atom())
        return tests[0] if len(tests) == 1 else (lambda doc: all(t(doc) for t in tests))

    def atom(self) -> JsonTest:
        token = self.peek()
        if token is not None and token.kind == "(":
            self.take()
            inner = self.disjunction()
            self.take(")")
            return inner
        return self.condition()

    def condition(self) -> JsonTest:
        path = self.take("selector").value
        token = self.take()
        if token.kind == "word" and token.value.upper() in ("IS", "NOT"):
            return self.keyword_test(path, token.value.upper())
        if token.kind != "op":
            raise InvalidFilterPattern()
        return _comparison(path, token.value, self.take(), self.regexes)

    def keyword_test(self, path: tuple[str | int, ...], keyword: str) -> JsonTest:
        word = self.take("word").value.upper()
        if keyword == "NOT":
            if word != "EXISTS":
                raise InvalidFilterPattern()
            return lambda doc: _select(doc, path) is _MISSING
        expected = {"TRUE": True, "FALSE": False, "NULL": None}
        if word not in expected:
            raise InvalidFilterPattern()
        want = expected[word]
        return lambda doc: (value := _select(doc, path)) is not _MISSING and value is want


def _comparison(path: tuple[str | int, ...], op: str, operand: _Token, regexes: _Counter) -> JsonTest:
    if operand.kind not in ("string", "word", "regex"):
        raise InvalidFilterPattern()
    number = None if operand.kind != "word" else _number(operand.value)
    if op in ("<", "<=", ">", ">="):
        if number is None:
            raise InvalidFilterPattern(f"A numeric comparison takes a number: {operand.value!r}")
        compare = _NUMERIC[op]
        return lambda doc: _is_number(value := _select(doc, path)) and compare(Decimal(str(value)), number)
    test = _value_test(operand, number, regexes)
    negate = op == "!="

    def check(doc: Any) -> bool:
        value = _select(doc, path)
        if value is _MISSING or isinstance(value, dict | list):
            return False  # "The SELECTOR must point to a value node (string or number)"
        return test(value) != negate

    return check


def _value_test(operand: _Token, number: Decimal | None, regexes: _Counter) -> Callable[[Any], bool]:
    """Whether a JSON scalar equals the operand (a number, a string with wildcards, a regex)."""
    if operand.kind == "regex":
        compiled = regexes.compile(operand.value)
        return lambda value: isinstance(value, str) and compiled.search(value) is not None
    text = str(operand.value)
    if number is not None:
        literal = text

        def equals(value: Any) -> bool:
            if _is_number(value):
                return Decimal(str(value)) == number
            return isinstance(value, str) and value == literal

        return equals
    matcher = _wildcard(text)
    return lambda value: _scalar_text(value) is not None and matcher(_scalar_text(value) or "")


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None  # null


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NUMERIC: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _json_pattern(body: str, regexes: _Counter) -> Matcher:
    test = _JsonParser(_json_tokens(body), regexes).parse()

    def match(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False  # a JSON pattern matches JSON events only
        return isinstance(document, dict) and test(document)

    return match


# --- space-delimited -----------------------------------------------------------------------

ELLIPSIS = "..."
FieldTest = Callable[[str], bool]


def _delimited_pattern(body: str, regexes: _Counter) -> Matcher:
    slots: list[FieldTest | None] = []  # None: the ellipsis
    for part in _split_fields(body):
        part = part.strip()
        if part in (ELLIPSIS, "\u2026"):
            slots.append(None)
        elif not part:
            # a field without a name: the guide's "[..., request=*.html*, status_code=4*,]" matches
            # "... 404 1534", whose last field it extracts as "$7"
            if not body.strip():
                raise InvalidFilterPattern()
            slots.append(lambda value: True)
        else:
            slots.append(_field(part, regexes))

    def match(message: str) -> bool:
        return _fit(slots, _message_fields(message))

    return match


def _split_fields(body: str) -> list[str]:
    """Split at the commas that are not inside a quoted value or a regex."""
    parts, current, i = [], [], 0
    while i < len(body):
        char = body[i]
        if char == '"':
            _, end = _read_quoted(body, i)
            current.append(body[i:end])
            i = end
        elif char == "%":
            _, end = _read_regex(body, i)
            current.append(body[i:end])
            i = end
        elif char == ",":
            parts.append("".join(current))
            current = []
            i += 1
        else:
            current.append(char)
            i += 1
    parts.append("".join(current))
    return parts


def _field(text: str, regexes: _Counter) -> FieldTest:
    """``name``, or ``name OP value`` conditions on the field itself, joined by ``&&`` and ``||``."""
    tokens = _json_tokens(text)
    name = tokens[0].value if tokens and tokens[0].kind == "word" else None
    if name is None or not _NAME.fullmatch(str(name)):
        raise InvalidFilterPattern(f"Invalid field '{text}'")
    if len(tokens) == 1:
        return lambda value: True
    alternatives: list[list[FieldTest]] = [[]]
    i = 0
    while i < len(tokens):
        if i + 2 >= len(tokens):
            raise InvalidFilterPattern(f"Invalid field '{text}'")
        field_name, op, operand = tokens[i], tokens[i + 1], tokens[i + 2]
        if field_name.kind != "word" or field_name.value != name or op.kind != "op":
            raise InvalidFilterPattern(f"Invalid field '{text}'")  # one field's conditions name that field
        alternatives[-1].append(_field_condition(op.value, operand, regexes))
        i += 3
        if i < len(tokens):
            joiner = tokens[i].kind
            if joiner == "||":
                alternatives.append([])
            elif joiner != "&&":
                raise InvalidFilterPattern(f"Invalid field '{text}'")
            i += 1
            if i >= len(tokens):
                raise InvalidFilterPattern(f"Invalid field '{text}'")
    return lambda value: any(all(test(value) for test in group) for group in alternatives)


def _field_condition(op: str, operand: _Token, regexes: _Counter) -> FieldTest:
    if operand.kind not in ("string", "word", "regex"):
        raise InvalidFilterPattern()
    number = None if operand.kind != "word" else _number(operand.value)
    if op in ("<", "<=", ">", ">="):
        if number is None:
            raise InvalidFilterPattern(f"A numeric comparison takes a number: {operand.value!r}")
        compare = _NUMERIC[op]

        def numeric(value: str) -> bool:
            actual = _number(value)
            return actual is not None and compare(actual, number)

        return numeric
    if operand.kind == "regex":
        test = _searches(regexes.compile(operand.value))
    elif number is not None:
        test = _equals_number(number, str(operand.value))
    else:
        test = _wildcard(str(operand.value))
    return (lambda value: not test(value)) if op == "!=" else test


def _equals_number(number: Decimal, literal: str) -> FieldTest:
    """A field equals a number literal when it reads as the same number, or is the literal's text."""

    def test(value: str) -> bool:
        actual = _number(value)
        return (actual is not None and actual == number) or value == literal

    return test


def _message_fields(message: str) -> list[str]:
    """Space-delimited fields; the text between ``[`` and ``]`` or two double quotes is one field."""
    fields: list[str] = []
    i, n = 0, len(message)
    while i < n:
        char = message[i]
        if char.isspace():
            i += 1
            continue
        closing = {"[": "]", '"': '"'}.get(char)
        if closing:
            end = message.find(closing, i + 1)
            if end >= 0:
                fields.append(message[i + 1 : end])
                i = end + 1
                continue
        start = i
        while i < n and not message[i].isspace():
            i += 1
        fields.append(message[start:i])
    return fields


def _fit(slots: Sequence[FieldTest | None], fields: Sequence[str]) -> bool:
    """Whether the fields fill the slots in order, each ellipsis taking any number of them."""
    if not slots:
        return not fields
    head, rest = slots[0], slots[1:]
    if head is None:
        return any(_fit(rest, fields[skip:]) for skip in range(len(fields) + 1))
    return bool(fields) and head(fields[0]) and _fit(rest, fields[1:])
