"""Hypothesis strategies from a contract's JSON schema: values it accepts, and mutations it must refuse.

The schemas are the ones pydantic publishes (``Model.model_json_schema()``, or a route's
request schema in the review API's OpenAPI document), so the fuzzer reads each contract
as a producer would. Only the subset pydantic writes is understood: ``$ref`` into
``$defs`` (or ``components/schemas``), ``anyOf``, ``enum``/``const``, the JSON types with
their bounds, ``pattern``, ``required``, ``additionalProperties``, ``propertyNames`` and
``maxProperties``. (hypothesis-jsonschema 0.23.1, the library for this, fails with
Hypothesis 6.170: its object strategy calls ``many.more()``, an internal API Hypothesis no
longer has.) A schema cannot say
what a model validator says (a document needs its text): ``refine`` adjusts a named
model's schema for generation only, and the mutations read the schema as published.

A mutation breaks one thing at one place (a path into the value), so the rejection must
name that place: a missing required field, a null where none is allowed, a value of the
wrong JSON type, a string, number or list past its bounds, a string outside its pattern or
enum, a field the contract does not know. The wrong-type values are ones pydantic does
not coerce (it reads ``"5"`` as an int, ``True`` as a number).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

Schema = dict[str, Any]
Path = tuple[str | int, ...]
Refine = Mapping[str, Callable[[Schema], Schema]]
Op = tuple[str, Path, "st.SearchStrategy[Any]"]  # a kind of break, the place it names, what goes there

UNBOUNDED_TEXT = 200  # the longest string generated where the schema sets no maxLength
UNEXPECTED = "unexpected_field"
DELETE = object()  # a mutation's replacement that takes the field away

# Strings a person would not type: controls, a NUL, bidi overrides, zero-width and combining
# marks, a BOM, astral emoji and full-width letters, text that normalizes differently.
ODD_UNICODE = (
    "\x00",
    "\x07\x1b[31m",
    "\u202eevil\u202c",
    "a\u200b\u200d\ufeffb",
    "e\u0301\u0301\u0301",
    "\U0001f4a9\U0001f9d1\u200d\U0001f9af",
    "\uff21\uff22\uff23",
    "\u212b vs \u00c5",
    "line\r\nbreak\u2028sep",
    "\ud7ff\ue000\uffff",
)
odd_text = st.one_of(
    st.sampled_from(ODD_UNICODE),
    st.lists(st.sampled_from(ODD_UNICODE), min_size=1, max_size=4).map("".join),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(min_size=1, max_size=12), inner, max_size=3)
    ),
    max_leaves=6,
)


def resolve(schema: Schema, root: Schema) -> Schema:
    """The schema a ``$ref`` (or a single ``allOf``) points to; any other schema as it is."""
    while True:
        if "$ref" in schema:
            *_, section, name = schema["$ref"].split("/")
            defs = root.get("$defs") or root.get("definitions") or root.get("components", {}).get("schemas")
            if section not in ("$defs", "definitions", "schemas") or not defs or name not in defs:
                raise ValueError(f"cannot resolve {schema['$ref']}")
            schema = defs[name]
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def _types(schema: Schema, root: Schema) -> set[str]:
    """The JSON types a schema allows; empty for a schema that allows anything."""
    schema = resolve(schema, root)
    if "anyOf" in schema:
        return set().union(*(_types(s, root) for s in schema["anyOf"]))
    if "const" in schema:
        return {_json_type(schema["const"])}
    if "enum" in schema:
        return {_json_type(v) for v in schema["enum"]}
    kind = schema.get("type")
    if kind is None:
        return set()
    kinds = set(kind) if isinstance(kind, list) else {kind}
    return kinds | ({"number"} if "integer" in kinds else set())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- valid values -------------------------------------------------------------------------
def from_schema(schema: Schema, root: Schema | None = None, refine: Refine | None = None) -> Any:
    """A strategy of JSON values that satisfy ``schema`` (``root`` holds its ``$defs``)."""
    return _strategy(schema, root or schema, refine or {})


def _strategy(schema: Schema, root: Schema, refine: Refine) -> st.SearchStrategy[Any]:
    schema = resolve(schema, root)
    title = schema.get("title")
    if isinstance(title, str) and title in refine:
        schema = refine[title](copy.deepcopy(schema))
    if "anyOf" in schema:
        return st.one_of([_strategy(s, root, refine) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_strategy({**schema, "type": k}, root, refine) for k in kind])
    if kind is None:
        return json_value
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(2**63) - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 2**63) - 1)
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum", schema.get("exclusiveMinimum")),
            max_value=schema.get("maximum", schema.get("exclusiveMaximum")),
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "string":
        return _string(schema)
    if kind == "array":
        items = _strategy(schema.get("items", {}), root, refine)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kind == "object":
        return _object(schema, root, refine)
    raise ValueError(f"no strategy for the schema {schema}")


def _string(schema: Schema) -> st.SearchStrategy[str]:
    low = schema.get("minLength", 0)
    high = schema.get("maxLength", max(UNBOUNDED_TEXT, low))
    pattern = schema.get("pattern")
    if pattern is None:
        return st.text(min_size=low, max_size=high)
    # JSON Schema patterns search; one anchored at both ends must match the whole string
    whole = pattern.startswith("^") and pattern.endswith("$")
    return st.from_regex(pattern, fullmatch=whole).filter(lambda s: low <= len(s) <= high)


def _object(schema: Schema, root: Schema, refine: Refine) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Schema] = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = st.fixed_dictionaries(
        {name: _strategy(s, root, refine) for name, s in properties.items() if name in required},
        optional={name: _strategy(s, root, refine) for name, s in properties.items() if name not in required},
    )
    extra = schema.get("additionalProperties", not properties)
    if extra is False or properties:
        return fixed
    values = json_value if extra is True else _strategy(extra, root, refine)
    names = _string({"type": "string", "minLength": 1, "maxLength": 24, **schema.get("propertyNames", {})})
    return st.dictionaries(names, values, max_size=min(schema.get("maxProperties", 4), 4))


# --- mutations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutation:
    """One broken thing: its kind, where it is, the value as mutated and the path a rejection names."""

    kind: str
    path: Path
    value: Any

    @property
    def field(self) -> str:
        """The place as pydantic names it in a message: ``document.tenant``, ``fields.total.value``."""
        return ".".join(str(p) for p in self.path)


@dataclass(frozen=True)
class _Site:
    path: Path
    schema: Schema  # the branch of an anyOf that the value there is of
    required: bool
    allowed: frozenset[str]  # every JSON type the place takes, whichever branch


def _sites(
    value: Any, schema: Schema, root: Schema, path: Path = (), required: bool = True, deep: bool = False
) -> list[_Site]:
    """Every place in ``value`` with the schema that governs it (``deep``: inside the places where
    anything goes, too, where nothing can break but anything may be pushed)."""
    allowed = frozenset(_types(schema, root))
    schema = _branch(value, resolve(schema, root), root)
    found = [_Site(path, schema, required, allowed)] if path else []
    if not _types(schema, root) and not deep:
        return found  # anything goes inside: no place in it can break
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", not properties)
        for key, item in value.items():
            inner = properties.get(key, extra if isinstance(extra, dict) else {})
            found += _sites(item, inner, root, (*path, key), key in schema.get("required", []), deep)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _sites(item, schema.get("items", {}), root, (*path, index), False, deep)
    return found


def _branch(value: Any, schema: Schema, root: Schema) -> Schema:
    """The branch of an ``anyOf`` that the value is of (the first of its JSON type)."""
    if "anyOf" not in schema:
        return schema
    kind = _json_type(value)
    for option in schema["anyOf"]:
        allowed = _types(option, root)
        if not allowed or kind in allowed or (kind == "integer" and "number" in allowed):
            return resolve(option, root)
    return schema


def _wrong_types(allowed: set[str]) -> list[Any]:
    """Values of a JSON type the schema does not allow, and that pydantic does not coerce."""
    candidates: dict[str, Any] = {
        "string": "not of this type",
        "object": {"unexpected": "object"},
        "array": ["unexpected", "list"],
        "integer": 12345,
    }
    wrong = []
    for kind, candidate in candidates.items():
        if kind in allowed:
            continue
        if kind == "string" and allowed & {"integer", "number", "boolean"} and not allowed & {"string"}:
            wrong.append("not of this type")  # no number or boolean reads this string
            continue
        if kind == "integer" and allowed & {"boolean", "number", "string"}:
            continue  # 12345 is a number; a string field refuses it, but a bool or float takes it
        wrong.append(candidate)
    if "string" in allowed and not allowed & {"integer", "number"}:
        wrong.append(12345)
    return list({repr(w): w for w in wrong}.values())


def _ops(site: _Site, root: Schema) -> list[Op]:
    """What can break at one place."""
    schema, path, allowed = site.schema, site.path, set(site.allowed)
    ops: list[Op] = []
    if site.required:
        ops.append(("missing", path, st.just(DELETE)))
    if not allowed:
        return ops  # anything goes here: nothing but its absence can break it
    if "null" not in allowed:
        ops.append(("null", path, st.none()))
    ops += [("wrong type", path, st.just(w)) for w in _wrong_types(allowed)]
    if "enum" in schema or "const" in schema:
        ops.append(("not in enum", path, st.sampled_from(["not-an-option", "APPROVE", "approve "])))
    if schema.get("type") == "string":
        ops += _string_ops(schema, path)
    if schema.get("type") in ("integer", "number"):
        ops += _number_ops(schema, path)
    if schema.get("type") == "array" and "maxItems" in schema:
        filler = _strategy(schema.get("items", {}), root, {})
        ops.append(
            (
                "too many items",
                path,
                st.lists(filler, min_size=schema["maxItems"] + 1, max_size=schema["maxItems"] + 3),
            )
        )
    if schema.get("type") == "object" and schema.get("additionalProperties") is False:
        ops.append(_unknown(path))
    if schema.get("type") == "object" and "maxProperties" in schema:
        over = schema["maxProperties"] + 1
        extra = schema.get("additionalProperties")
        value = _strategy(extra, root, {}) if isinstance(extra, dict) else json_value
        ops.append(("too many fields", path, value.map(lambda v: {f"field-{i}": v for i in range(over)})))
    return ops


def _unknown(path: Path) -> Op:
    return ("unknown field", (*path, UNEXPECTED), st.just({"a": "field the contract does not have"}))


def _string_ops(schema: Schema, path: Path) -> list[Op]:
    ops: list[Op] = []
    if "maxLength" in schema:
        over = schema["maxLength"] + 1
        ops.append(
            ("oversized", path, st.sampled_from(["x" * over, "\U0001f4a9" * over, "é" * (over + 500)]))
        )
    if schema.get("minLength", 0) > 0:
        ops.append(("undersized", path, st.just("")))
    pattern = schema.get("pattern")
    if pattern:
        outside = odd_text.filter(lambda s: not re.search(pattern, s))
        ops.append(("outside pattern", path, outside))
    return ops


def _number_ops(schema: Schema, path: Path) -> list[Op]:
    ops: list[Op] = []
    integer = schema.get("type") == "integer"
    if "maximum" in schema or "exclusiveMaximum" in schema:
        bound = schema.get("maximum", schema.get("exclusiveMaximum"))
        ops.append(("over maximum", path, st.just(bound + 1 if integer else bound + 0.5)))
    if "minimum" in schema or "exclusiveMinimum" in schema:
        bound = schema.get("minimum", schema.get("exclusiveMinimum"))
        below = bound - 1 if integer else bound - 0.5
        ops.append(
            (
                "under minimum",
                path,
                st.sampled_from([below, bound] if "exclusiveMinimum" in schema else [below]),
            )
        )
    if integer:
        ops.append(("fractional", path, st.just(2.5)))
    return ops


def _set(value: Any, path: Path, new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``path`` (``DELETE`` takes the field away)."""
    copied = copy.deepcopy(value)
    *parents, last = path
    target = copied
    for part in parents:
        target = target[part]
    if new is DELETE:
        del target[last]
    else:
        target[last] = new
    return copied


def mutations(
    valid: st.SearchStrategy[Any], schema: Schema, root: Schema | None = None
) -> st.SearchStrategy[Mutation]:
    """Mutations of valid values: each breaks one place that the schema governs."""
    top = root or schema

    @st.composite
    def mutate(draw: st.DrawFn) -> Mutation:
        value = draw(valid)
        ops = [_unknown(())] if resolve(schema, top).get("additionalProperties") is False else []
        for site in _sites(value, schema, top):
            ops += _ops(site, top)
        # each kind of break as likely as another, whichever has the most places to break
        kind = draw(st.sampled_from(sorted({k for k, _, _ in ops})))
        _, path, replacement = draw(st.sampled_from([op for op in ops if op[0] == kind]))
        return Mutation(kind, path, _set(value, path, draw(replacement)))

    return mutate()


NOT_AN_OBJECT = st.sampled_from([None, [], ["a", "list"], "not json", '"a json string"', 42, 3.5, True, ""])


# --- extremes: valid by the schema, at sizes and shapes no example shows ------------------------
# A step's input arrives from its flow's state, which Step Functions holds to 256 KiB of UTF-8: the
# extremes stay under it (a Lambda invoked directly takes more, but no flow sends it).
STATE_PAYLOAD_BYTES = 262_144


def payload_bytes(value: Any) -> int:
    """The size of a value as Step Functions counts it: its JSON, in UTF-8."""
    return len(json.dumps(value, ensure_ascii=False).encode())


def _huge(unit: str, size: int) -> str:
    """About ``size`` bytes of UTF-8 of one repeated unit."""
    return unit * (size // len(unit.encode()))


HUGE_TEXT = st.sampled_from(
    [
        _huge("x", 200_000),
        _huge("\u00e9", 200_000),
        _huge("\U0001f4a9", 200_000),
        _huge("\u4e2d\u6587", 200_000),
        _huge("Invoice INV-1 total 12.00 EUR, call +1 555 0100. ", 200_000),
    ]
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = {"n": value} if level % 2 else [value]
    return value


def extremes(
    valid: st.SearchStrategy[Any], schema: Schema, root: Schema | None = None
) -> st.SearchStrategy[Mutation]:
    """Valid values pushed where the schema sets no bound: huge strings, long lists, many keys, deep
    nesting, odd unicode. Nothing here breaks the contract: the step must answer, or fail by name."""
    top = root or schema

    @st.composite
    def push(draw: st.DrawFn) -> Mutation:
        value = draw(valid)
        ops: list[Op] = []
        for site in _sites(value, schema, top, deep=True):
            ops += _extreme_ops(site, _at(value, site.path), top)
        if not ops:
            return Mutation("as generated", (), value)
        kind, path, replacement = draw(st.sampled_from(ops))
        pushed = Mutation(kind, path, _set(value, path, draw(replacement)))
        assume(payload_bytes(pushed.value) <= STATE_PAYLOAD_BYTES)
        return pushed

    return push()


def _at(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def _extreme_ops(site: _Site, current: Any, root: Schema) -> list[Op]:
    schema, path = site.schema, site.path
    kinds = _types(schema, root)
    ops: list[Op] = []
    if not kinds:  # anything goes: a huge string, or nesting deeper than a store keeps
        ops += [("huge value", path, HUGE_TEXT), ("deep nesting", path, st.just(_nested(40)))]
        if isinstance(current, dict):  # and inside it, a field of its own
            ops.append(("huge value", (*path, "pushed"), HUGE_TEXT))
        return ops
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and not schema.get("pattern"):
        ops.append(("huge string", path, HUGE_TEXT))
    if kind == "string" and not schema.get("pattern") and "enum" not in schema and "const" not in schema:
        low, high = schema.get("minLength", 0), schema.get("maxLength", 10**9)
        ops.append(("odd unicode", path, odd_text.filter(lambda s: low <= len(s) <= high)))
    if kind == "array" and "maxItems" not in schema and isinstance(current, list) and current:
        ops.append(("many items", path, st.just([current[0]] * 1000)))
    extra = schema.get("additionalProperties")
    if kind == "object" and not schema.get("properties") and extra is not False and isinstance(current, dict):
        sample = next(iter(current.values()), "value")
        keys = min(1000, schema.get("maxProperties", 1000))
        ops.append(("many keys", path, st.just({f"key-{i}": sample for i in range(keys)})))
    return ops
