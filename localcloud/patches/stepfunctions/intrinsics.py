r"""Intrinsic functions as AWS evaluates them, where moto's interpreter differs.

- A string literal may escape the characters the intrinsic syntax reserves, ``\'``,
  ``\{``, ``\}`` and ``\\`` (AWS: "you must escape them with a backslash"); an
  escaped brace in ``States.Format``'s template is a literal brace, not a
  placeholder (moto's lexer refused every escape).
- ``null`` is an argument like any literal: ``States.Array('a', null)`` is
  ``["a", null]`` (moto's grammar has no null, and dropped it).
- ``States.MathRandom(start, end)`` is an integer from ``start`` (inclusive) to ``end``
  (exclusive), as the ASL's intrinsic functions say (moto could return ``end``).
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


# What an escape in an intrinsic's string literal stands for, while the lexer reads it:
# private-use characters, which no definition writes.
_ESCAPED = {"'": "\ue000", "\\": "\ue001", "{": "\ue002", "}": "\ue003"}
_QUOTE_AND_BACKSLASH = {"\ue000": "'", "\ue001": "\\"}
_BRACES = {"\ue002": "{", "\ue003": "}"}
_NULL = "\ue004"  # a null argument, read as a string literal holding only this


def _hide_escapes(source: str) -> str:
    """The intrinsic's source with each escape inside a quoted string put out of the lexer's way."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(source):
        char = source[i]
        if quoted and char == "\\" and i + 1 < len(source) and source[i + 1] in _ESCAPED:
            out.append(_ESCAPED[source[i + 1]])
            i += 2
            continue
        if not quoted and source.startswith("null", i) and _a_whole_word(source, i, 4):
            out.append(f"'{_NULL}'")
            i += 4
            continue
        if char == "'":
            quoted = not quoted
        out.append(char)
        i += 1
    return "".join(out)


def _a_whole_word(source: str, start: int, length: int) -> bool:
    before = source[start - 1] if start > 0 else " "
    after = source[start + length] if start + length < len(source) else " "
    return not (before.isalnum() or before in "_.$") and not (after.isalnum() or after == "_")


def _restore(text: str, escapes: dict[str, str]) -> str:
    for hidden, char in escapes.items():
        text = text.replace(hidden, char)
    return text


def _escapes_in_intrinsics(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import ArgumentLiteral
    from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic import (
        string_format,
    )
    from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
    from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor

    parse = IntrinsicParser.parse
    text_of_str = Preprocessor._text_of_str

    def parse_escaped(source: str) -> Any:
        # moto hands over the definition's raw JSON text: read its JSON escapes first
        try:
            source = json.loads(f'"{source}"')
        except json.JSONDecodeError:
            pass
        return parse(_hide_escapes(source))

    def visit_string(self: Any, ctx: Any) -> Any:
        template = _restore(text_of_str(ctx.STRING()), _QUOTE_AND_BACKSLASH)
        if template == _NULL:
            return ArgumentLiteral(definition_value=None)
        literal = ArgumentLiteral(definition_value=_restore(template, _BRACES))
        literal.template = template  # braces still hidden: what States.Format reads
        return literal

    def format_string(self: Any, env: Any) -> None:
        self.argument_list.eval(env=env)
        args = env.stack.pop()
        first = self.argument_list.arguments[0]
        template = getattr(first, "template", None) or args[0]
        pieces = template.split("{}")
        values = [string_format.StringFormat._to_str_repr(value) for value in args[1:]]
        formatted = pieces[0] + "".join(v + piece for v, piece in zip(values, pieces[1:], strict=False))
        env.stack.append(_restore(formatted, _BRACES))

    patches.replace(IntrinsicParser, "parse", staticmethod(parse_escaped))
    patches.replace(Preprocessor, "visitFunc_arg_string", visit_string)
    patches.replace(string_format.StringFormat, "_eval_body", format_string)


def _math_random_excludes_its_end(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.math_operations import (
        math_random,
    )

    def eval_body(self: Any, env: Any) -> None:
        self.argument_list.eval(env=env)
        args = env.stack.pop()
        seed = self._validate_integer_value(args[2], "seed") if len(args) == 3 else None
        start = self._validate_integer_value(args[0], "start")
        end = self._validate_integer_value(args[1], "end")
        env.stack.append(random.Random(seed).randrange(start, end))  # noqa: S311 - not for secrets

    patches.replace(math_random.MathRandom, "_eval_body", eval_body)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _escapes_in_intrinsics(patches)
    _math_random_excludes_its_end(patches)
