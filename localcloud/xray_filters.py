"""X-Ray filter expressions: a tokenizer, a recursive-descent parser and an evaluator.

The language is the one the X-Ray Developer Guide describes in "Using filter expressions"
(``GetTraceSummaries``' ``FilterExpression``)::

    expression  := or
    or          := and ( "OR" and )*
    and         := unary ( ["AND"] unary )*          # "ok !partial duration < 3": juxtaposed terms AND
    unary       := "!" unary | primary
    primary     := "(" expression ")"
                 | "service" "(" [target] ")" [ "{" expression "}" ]
                 | "edge" "(" target "," target ")" [ "{" expression "}" ]
                 | keyword [ operator value ]
    target      := STRING | "id" "(" field ":" STRING ( "," field ":" STRING )* ")"   # name, type
    keyword     := boolean | number | string keyword | "annotation." KEY

- Boolean keywords (``ok``, ``error``, ``throttle``, ``fault``, ``partial``, ``inferred``; ``root``
  in a service's filter) alone, negated with ``!``, or compared (``=``, ``!=``) with ``true`` /
  ``false``.
- Number keywords (``responsetime``, ``duration``, ``http.status``) with ``=``, ``!=``, ``<``,
  ``<=``, ``>``, ``>=`` and a number.
- String keywords (``http.url``, ``http.method``, ``http.useragent``, ``http.clientip``, ``user``,
  ``resource.arn``, ``availabilityzone``, ``instance.id``; ``name`` and ``type`` in a service's
  filter) with ``=``, ``!=``, ``CONTAINS``, ``BEGINSWITH``, ``ENDSWITH`` and a quoted string.
  A keyword alone is true when it is set ("http.url AND responseTime > 2").
- ``annotation.key`` with the operators of its value's type, or alone: set, or true when boolean.
  It cannot be used in a service's or an edge's filter.
- ``service(name) {filter}``, ``service() {filter}``, ``edge(source, destination) {filter}``, with
  ``id(name: "...", type: "...")`` in place of a name.

Keywords, ``AND``, ``OR`` and the string operators are read in any case (the guide writes
``responseTime``, ``and`` as well as ``AND``); annotation keys and values are case-sensitive.
Strings are double-quoted, without escapes. A keyword that holds several values in a trace (a
``user`` on two segments, an annotation two subsegments set) matches when one value does; a
comparison of a keyword that is not set is false. An expression that does not parse raises
:class:`FilterError`, which names the position; the root-cause keywords (``rootcause.*``) and
groups (``group.name``, ``group.arn``) parse as X-Ray's but are not modeled by the local cloud:
they raise :class:`NotModeled`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

Value = str | float | bool

BOOLEAN_KEYWORDS = frozenset({"ok", "error", "throttle", "fault", "partial", "inferred"})
NUMBER_KEYWORDS = frozenset({"responsetime", "duration", "http.status"})
STRING_KEYWORDS = frozenset(
    {
        "http.url",
        "http.method",
        "http.useragent",
        "http.clientip",
        "user",
        "resource.arn",
        "availabilityzone",
        "instance.id",
    }
)
# In a service's or an edge's filter: the keywords of its segments, and what names the service.
SERVICE_BOOLEAN_KEYWORDS = BOOLEAN_KEYWORDS | {"root"}
SERVICE_STRING_KEYWORDS = STRING_KEYWORDS | {"name", "type"}
NOT_MODELED_KEYWORDS = ("rootcause", "group")

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPERATORS = ("CONTAINS", "BEGINSWITH", "ENDSWITH")
EQUALITY = ("=", "!=")


class FilterError(ValueError):
    """The expression does not parse: the message names the position (1-based) and the problem."""

    def __init__(self, expression: str, position: int, problem: str) -> None:
        self.expression = expression
        self.position = position
        self.problem = problem
        near = expression[position : position + 20]
        where = f"near '{near}'" if near else "at its end"
        super().__init__(
            f"Invalid filter expression: {problem} at position {position + 1} ({where}) in '{expression}'"
        )


class NotModeled(NotImplementedError):
    """Valid X-Ray syntax the local cloud does not evaluate (root causes, groups)."""


# --- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # NAME, STRING, NUMBER, OP, "!", "(", ")", "{", "}", ",", ":", ".", END
    text: str
    position: int


_PUNCTUATION = "(){},:."


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char.isspace():
            i += 1
        elif char == '"':
            end = expression.find('"', i + 1)
            if end < 0:
                raise FilterError(expression, i, "a string that is never closed (a missing '\"')")
            tokens.append(Token("STRING", expression[i + 1 : end], i))
            i = end + 1
        elif char in "<>=!":
            two = expression[i : i + 2]
            if two in ("<=", ">=", "!="):
                tokens.append(Token("OP", two, i))
                i += 2
            elif char == "!":
                tokens.append(Token("!", "!", i))
                i += 1
            else:
                tokens.append(Token("OP", char, i))
                i += 1
        elif char in _PUNCTUATION:
            tokens.append(Token(char, char, i))
            i += 1
        elif char.isdigit() or (char == "-" and i + 1 < n and expression[i + 1].isdigit()):
            j = i + 1
            while j < n and expression[j].isdigit():
                j += 1
            if j + 1 < n and expression[j] == "." and expression[j + 1].isdigit():
                j += 1
                while j < n and expression[j].isdigit():
                    j += 1
            if j < n and expression[j] in "eE":
                k = j + 1
                if k < n and expression[k] in "+-":
                    k += 1
                if k < n and expression[k].isdigit():
                    j = k
                    while j < n and expression[j].isdigit():
                        j += 1
            tokens.append(Token("NUMBER", expression[i:j], i))
            i = j
        elif char.isalpha() or char == "_":
            j = i + 1
            while j < n and (expression[j].isalnum() or expression[j] == "_"):
                j += 1
            tokens.append(Token("NAME", expression[i:j], i))
            i = j
        else:
            raise FilterError(expression, i, f"an unexpected character '{char}'")
    tokens.append(Token("END", "", n))
    return tokens


# --- the syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Compare:
    """``keyword [operator value]``; ``key`` is the annotation's key for ``annotation.key``."""

    keyword: str
    operator: str | None = None
    value: Value | None = None
    key: str | None = None


@dataclass(frozen=True)
class Target:
    """A service by name, by ``id(name:, type:)``, or any service (both None)."""

    name: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Service:
    target: Target
    filter: Node | None = None


@dataclass(frozen=True)
class Edge:
    source: Target
    destination: Target
    filter: Node | None = None


Node = Or | And | Not | Compare | Service | Edge


# --- the parser ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.at = 0

    # helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def word(self, *words: str) -> bool:
        return self.token.kind == "NAME" and self.token.text.upper() in words

    def advance(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, problem: str, token: Token | None = None) -> FilterError:
        return FilterError(self.expression, (token or self.token).position, problem)

    def expect(self, kind: str, what: str) -> Token:
        if self.token.kind != kind:
            raise self.fail(f"expected {what}, found {self._found()}")
        return self.advance()

    def _found(self) -> str:
        token = self.token
        return "the end of the expression" if token.kind == "END" else f"'{token.text}'"

    # grammar
    def parse(self) -> Node:
        if self.token.kind == "END":
            raise self.fail("an empty expression")
        node = self.or_(scope="trace")
        if self.token.kind != "END":
            raise self.fail(f"expected AND, OR or the end of the expression, found {self._found()}")
        return node

    def or_(self, scope: str) -> Node:
        node = self.and_(scope)
        while self.word("OR"):
            self.advance()
            node = Or(node, self.and_(scope))
        return node

    def and_(self, scope: str) -> Node:
        node = self.unary(scope)
        while True:
            if self.word("AND"):
                self.advance()
            elif not self._starts_term():
                return node
            node = And(node, self.unary(scope))

    def _starts_term(self) -> bool:
        token = self.token
        return token.kind in ("!", "(") or (token.kind == "NAME" and token.text.upper() not in ("AND", "OR"))

    def unary(self, scope: str) -> Node:
        if self.token.kind == "!":
            self.advance()
            return Not(self.unary(scope))
        return self.primary(scope)

    def primary(self, scope: str) -> Node:
        token = self.token
        if token.kind == "(":
            self.advance()
            node = self.or_(scope)
            self.expect(")", "')' to close the '('")
            return node
        if token.kind != "NAME" or token.text.upper() in ("AND", "OR"):
            raise self.fail(f"expected a keyword, '!' or '(', found {self._found()}")
        lowered = token.text.lower()
        following = self.tokens[self.at + 1]
        if lowered in ("service", "edge") and following.kind == "(":
            if scope != "trace":
                raise self.fail(f"{lowered}() cannot be used in a service's or an edge's filter")
            return self.service() if lowered == "service" else self.edge()
        return self.comparison(scope)

    def service(self) -> Node:
        self.advance()
        self.expect("(", "'('")
        target = Target() if self.token.kind == ")" else self.target()
        self.expect(")", "')' to close service(")
        return Service(target, self.braces())

    def edge(self) -> Node:
        self.advance()
        self.expect("(", "'('")
        source = self.target()
        self.expect(",", "',' between the edge's source and destination")
        destination = self.target()
        self.expect(")", "')' to close edge(")
        return Edge(source, destination, self.braces())

    def braces(self) -> Node | None:
        if self.token.kind != "{":
            return None
        self.advance()
        if self.token.kind == "}":
            raise self.fail("an empty filter in '{}'")
        node = self.or_(scope="service")
        self.expect("}", "'}' to close the filter")
        return node

    def target(self) -> Target:
        token = self.token
        if token.kind == "STRING":
            self.advance()
            return Target(name=token.text)
        if token.kind == "NAME" and token.text.lower() == "id":
            self.advance()
            self.expect("(", "'(' after id")
            fields: dict[str, str] = {}
            while True:
                field = self.expect("NAME", "a field of id() (name, type)")
                if field.text.lower() not in ("name", "type"):
                    raise self.fail(f"id() has no field '{field.text}' (name, type)", field)
                if field.text.lower() in fields:
                    raise self.fail(f"id() names '{field.text}' twice", field)
                self.expect(":", f"':' after {field.text}")
                fields[field.text.lower()] = self.expect("STRING", "a quoted string").text
                if self.token.kind != ",":
                    break
                self.advance()
            self.expect(")", "')' to close id(")
            return Target(name=fields.get("name"), type=fields.get("type"))
        raise self.fail(f"expected a service name in quotes or id(...), found {self._found()}")

    def keyword(self) -> tuple[str, str | None, Token]:
        start = self.advance()
        parts = [start.text.lower()]
        while self.token.kind == ".":
            self.advance()
            part = self.token
            if part.kind not in ("NAME", "NUMBER") or (part.kind == "NUMBER" and not part.text.isdigit()):
                raise self.fail(f"expected a name after '.', found {self._found()}")
            self.advance()
            parts.append(part.text)
            if parts[0] == "annotation":
                return "annotation", part.text, start  # the key keeps its case
            parts[-1] = parts[-1].lower()
        return ".".join(parts), None, start

    def comparison(self, scope: str) -> Node:
        keyword, key, start = self.keyword()
        if keyword.split(".")[0] in NOT_MODELED_KEYWORDS:
            raise NotModeled(f"X-Ray's {keyword.split('.')[0]} keywords ('{keyword}') in a filter expression")
        if keyword == "annotation" and key is None:
            raise self.fail("expected '.' and a key after annotation", start)
        kind = self._kind(keyword, scope, start)
        operator = self._operator()
        if operator is None:
            return Compare(keyword, key=key)
        value = self._value(keyword, kind, operator)
        return Compare(keyword, operator.text.upper(), value, key)

    def _kind(self, keyword: str, scope: str, start: Token) -> str:
        booleans = BOOLEAN_KEYWORDS if scope == "trace" else SERVICE_BOOLEAN_KEYWORDS
        strings = STRING_KEYWORDS if scope == "trace" else SERVICE_STRING_KEYWORDS
        if keyword == "annotation":
            if scope != "trace":
                raise self.fail(
                    "annotation keywords cannot be used in a service's or an edge's filter", start
                )
            return "annotation"
        if keyword in booleans:
            return "boolean"
        if keyword in NUMBER_KEYWORDS:
            return "number"
        if keyword in strings:
            return "string"
        raise self.fail(f"'{keyword}' is not a keyword of filter expressions", start)

    def _operator(self) -> Token | None:
        if self.token.kind == "OP" or self.word(*STRING_OPERATORS):
            return self.advance()
        return None

    def _value(self, keyword: str, kind: str, operator_token: Token) -> Value:
        operator = operator_token.text.upper()
        token = self.token
        literal: Value
        if token.kind == "STRING":
            literal, literal_kind = token.text, "string"
        elif token.kind == "NUMBER":
            literal, literal_kind = float(token.text), "number"
        elif token.kind == "NAME" and token.text.lower() in ("true", "false"):
            literal, literal_kind = token.text.lower() == "true", "boolean"
        else:
            raise self.fail(f"expected a value after '{operator}', found {self._found()}")
        allowed = {
            "boolean": EQUALITY,
            "number": COMPARISONS,
            "string": (*EQUALITY, *STRING_OPERATORS),
        }
        if kind != "annotation" and literal_kind != kind:
            raise self.fail(
                f"{keyword} is a {kind} keyword: it is compared with a {kind}, not a {literal_kind}"
            )
        if operator not in allowed[literal_kind]:
            raise self.fail(
                f"'{operator}' does not apply to a {literal_kind} ({', '.join(allowed[literal_kind])} do)",
                operator_token,
            )
        self.advance()
        return literal


def parse(expression: str) -> Node:
    """The expression's syntax tree; :class:`FilterError` when it does not parse."""
    return _Parser(expression).parse()


# --- evaluation --------------------------------------------------------------------------------


class Subject(Protocol):
    """What an expression is evaluated against: a trace, or one segment of a service in it."""

    def values(self, keyword: str, key: str | None = None) -> list[Value]:
        """Every value the keyword has here (an annotation's: every value its key has)."""
        ...

    def services(self) -> Iterable[Subject]:
        """One subject per segment, for ``service()`` (a trace's; a segment has none)."""
        ...

    def edges(self) -> Iterable[tuple[Subject, Subject]]:
        """(caller, callee) segments, for ``edge()``: the callee's parent is in the caller."""
        ...


def _compare(have: Value, operator: str, want: Value) -> bool:
    # a value of another type than the literal never matches (bool is not a number here)
    if isinstance(want, bool) or isinstance(have, bool):
        if not (isinstance(want, bool) and isinstance(have, bool)):
            return False
        return (have == want) == (operator == "=")
    if isinstance(want, str):
        if not isinstance(have, str):
            return False
        if operator == "CONTAINS":
            return want in have
        if operator == "BEGINSWITH":
            return have.startswith(want)
        if operator == "ENDSWITH":
            return have.endswith(want)
        return (have == want) == (operator == "=")
    if not isinstance(have, int | float):
        return False
    number = float(have)
    return {
        "=": number == want,
        "!=": number != want,
        "<": number < want,
        "<=": number <= want,
        ">": number > want,
        ">=": number >= want,
    }[operator]


def _names(subject: Subject, target: Target) -> bool:
    if target.name is not None and target.name not in subject.values("name"):
        return False
    return target.type is None or target.type in subject.values("type")


def evaluate(node: Node, subject: Subject) -> bool:
    """Whether the subject (a trace) matches the expression."""
    if isinstance(node, Or):
        return evaluate(node.left, subject) or evaluate(node.right, subject)
    if isinstance(node, And):
        return evaluate(node.left, subject) and evaluate(node.right, subject)
    if isinstance(node, Not):
        return not evaluate(node.operand, subject)
    if isinstance(node, Service):
        return any(
            _names(segment, node.target) and (node.filter is None or evaluate(node.filter, segment))
            for segment in subject.services()
        )
    if isinstance(node, Edge):
        return any(
            _names(caller, node.source)
            and _names(callee, node.destination)
            and (node.filter is None or evaluate(node.filter, callee))
            for caller, callee in subject.edges()
        )
    values = subject.values(node.keyword, node.key)
    if node.operator is None:
        if any(isinstance(v, bool) for v in values):
            return any(v is True for v in values)
        return bool(values)
    assert node.value is not None
    return any(_compare(v, node.operator, node.value) for v in values)


def matches(expression: str, subject: Subject) -> bool:
    return evaluate(parse(expression), subject)
