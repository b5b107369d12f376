"""A pydantic model's JSON Schema, as the JSON Schema draft 4 that API Gateway's models accept.

Pydantic writes JSON Schema 2020-12; an API Gateway model is draft 4. The model stays the
one source of truth (the function validates with it); this only translates, so that API
Gateway's request validator refuses what the function would refuse anyway, before it runs.
The translation is never stricter than the model: what draft 4 cannot say is left out, and
the function still checks it.

Translated, with the same meaning:

- ``propertyNames`` with only ``minLength``/``maxLength`` (a dict's key length) becomes a
  ``patternProperties`` whose pattern bounds the name, with the values' schema (the
  object's ``additionalProperties``) under it and ``additionalProperties: false``;
- ``const`` becomes a one-value ``enum``;
- numeric ``exclusiveMinimum``/``exclusiveMaximum`` (draft 6) become ``minimum``/``maximum``
  with draft 4's boolean ``exclusiveMinimum``/``exclusiveMaximum``;
- ``$defs`` becomes ``definitions``, and ``$ref`` to them follows.

Dropped, being keywords draft 4 lacks: the annotations ``examples``, ``readOnly``,
``writeOnly``, ``deprecated``, ``$comment``, ``contentEncoding``, ``contentMediaType``,
``contentSchema`` (nothing is validated by them), and the assertions ``if``/``then``/``else``,
``contains``, ``minContains``, ``maxContains``, ``dependentRequired``, ``dependentSchemas``,
``prefixItems``, ``unevaluatedItems``, ``unevaluatedProperties`` and any other
``propertyNames`` (the edge checks less; the function checks them all).
"""

from __future__ import annotations

from typing import Any

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DROPPED = frozenset(
    {
        # annotations
        "examples",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$comment",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        # assertions draft 4 has no word for: left to the function
        "if",
        "then",
        "else",
        "contains",
        "minContains",
        "maxContains",
        "dependentRequired",
        "dependentSchemas",
        "prefixItems",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
# keywords whose value is one schema, a list of schemas, or a map of names to schemas
_ONE = ("items", "additionalProperties", "not", "additionalItems")
_MANY = ("allOf", "anyOf", "oneOf")
_MAP = ("properties", "patternProperties", "definitions")


def name_pattern(bounds: dict[str, Any]) -> str:
    """A pattern that a property name of ``minLength``..``maxLength`` characters matches, whole.

    ``[\\s\\S]`` is any character, a line break too. Python's ``re`` matches a code point, as
    pydantic counts; an engine that counts UTF-16 units would see a character beyond the BMP as
    two, which only a name of more than half the bound in such characters could notice.
    """
    low, high = bounds.get("minLength", 0), bounds.get("maxLength")
    return f"^[\\s\\S]{{{low},{'' if high is None else high}}}$"


def draft4(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (pydantic's ``model_json_schema()``) as a draft 4 schema, with its ``$schema``."""
    return {"$schema": DRAFT4, **_translate(schema)}


def _translate(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema  # a boolean schema, or a keyword's plain value
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in DROPPED or key == "propertyNames":
            continue
        if key == "$defs":
            out["definitions"] = {name: _translate(s) for name, s in value.items()}
        elif key == "$ref" and isinstance(value, str):
            out["$ref"] = value.replace("#/$defs/", "#/definitions/")
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key in _ONE:
            out[key] = _translate(value)
        elif key in _MANY:
            out[key] = [_translate(s) for s in value]
        elif key in _MAP:
            out[key] = {name: _translate(s) for name, s in value.items()}
        else:
            out[key] = value
    names = schema.get("propertyNames")
    if isinstance(names, dict) and names and set(names) <= {"minLength", "maxLength"}:
        values = out.pop("additionalProperties", {})
        values = {} if values is True else values  # draft 4 has no boolean schemas
        out["patternProperties"] = {**out.get("patternProperties", {}), name_pattern(names): values}
        out["additionalProperties"] = False
    return out
