r"""JSONPath as AWS reads it, where moto's interpreter differs.

- A definite path (names and indexes only) selects one value; an indefinite one (a
  wildcard ``*``, a slice, a filter ``?()``, a union or ``..``) selects a list, even
  of one (AWS's paths are Jayway JsonPath's; moto gave a list for any path under an
  index, so ``$[0].v`` was ``[5]``, not ``5``).
- ``StringMatches`` knows one wildcard, ``*``; ``\*`` and ``\\`` are a literal star and
  backslash, and ``?`` or ``[`` are plain characters (moto used shell globbing, with
  no escapes and three wildcards).
- A Choice rule's ``…Path`` comparator may name a context path, ``$$.Execution.Name``,
  as any other path of the ASL may (moto read every ``…Path`` from the state's
  input and failed to parse ``$$``, States.Runtime).

Each path is parsed once (:func:`compiled`): jsonpath_ng builds its whole parser at every
``parse``, and moto parsed a state's ``ResultPath`` again each time the state ran.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import pkgutil
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


COMPILED_PATHS_KEPT = 4096  # the JSONPaths kept parsed, of those read last
_INDEFINITE = re.compile(r"\.\.|\.\*|\[\s*\*\s*\]|\[\s*\?|\[[^\]]*[:,][^\]]*\]")


def is_indefinite(path: str) -> bool:
    """Whether a JSONPath may select many values (Jayway's rule), so selects a list."""
    return bool(_INDEFINITE.search(re.sub(r"'[^']*'|\"[^\"]*\"", "''", path)))


@functools.lru_cache(maxsize=COMPILED_PATHS_KEPT)
def compiled(path: str, extended: bool = True) -> Any:
    """The path, parsed once: jsonpath_ng builds its whole parser at every ``parse`` (about 1 ms,
    a burst's main CPU cost after moto's own parsing); a parsed path keeps no state of a search.

    ``extended``: jsonpath_ng's extended dialect (filters, arithmetic), which moto reads the
    ASL's paths in; its plain one is what moto's ``ResultPath`` and EventBridge's ``InputPath``
    are read in."""
    import jsonpath_ng
    import jsonpath_ng.ext

    return (jsonpath_ng.ext.parse if extended else jsonpath_ng.parse)(path)


def _result_paths_parsed_once(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path

    patches.replace(result_path, "parse", functools.partial(compiled, extended=False))


def extract(path: str, data: Any) -> Any:
    """What a JSONPath selects in ``data``: one value, or for an indefinite path a list."""
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    matches = compiled(path).find(data)
    if is_indefinite(path):
        return [match.value for match in matches]
    if not matches:
        raise NoSuchJsonPathError(json_path=path, data=data)
    return matches[0].value


def _definite_paths(patches: Patches) -> None:
    import moto.stepfunctions.parser.asl as asl
    from moto.stepfunctions.parser.asl.utils import json_path

    original = json_path.extract_json
    for found in pkgutil.walk_packages(asl.__path__, prefix=f"{asl.__name__}."):
        try:  # every module that may read a path, loaded now so that each gets the patch
            importlib.import_module(found.name)
        except ImportError:
            continue  # a LocalStack-only module moto's port cannot load: nothing runs it
    users = [m for name, m in list(sys.modules.items()) if name.startswith("moto.stepfunctions.parser")]
    for module in users:
        if getattr(module, "extract_json", None) is original:
            patches.replace(module, "extract_json", extract)


def _aws_wildcard(pattern: str) -> re.Pattern[str]:
    regex = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if char == "*" else re.escape(char)
        i += 1
    return re.compile(regex, re.DOTALL)


def _string_matches(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
        string_operators,
    )

    def compare(variable: Any, comparison_value: Any) -> bool:
        return isinstance(variable, str) and bool(_aws_wildcard(str(comparison_value)).fullmatch(variable))

    patches.replace(string_operators.StringMatches, "_compare", staticmethod(compare))


_choice_env: contextvars.ContextVar[Any] = contextvars.ContextVar("choice_env", default=None)


def _context_paths_in_choice_rules(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.choice.comparison import comparison_func
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
        boolean_equals,
        numeric,
        string_operators,
        timestamp_operators,
    )

    def extract_in_rule(path: str, data: Any) -> Any:
        env = _choice_env.get()
        if env is not None and path.startswith("$$"):
            return extract("$" + path[2:], env.states.context_object.context_object_data)
        return extract(path, data)

    for module in (boolean_equals, numeric, string_operators, timestamp_operators):
        patches.replace(module, "extract_json", extract_in_rule)  # over _definite_paths' own

    compare = comparison_func.ComparisonFuncValue._eval_body

    def eval_comparison(self: Any, env: Any) -> None:
        token = _choice_env.set(env)
        try:
            compare(self, env)
        finally:
            _choice_env.reset(token)

    patches.replace(comparison_func.ComparisonFuncValue, "_eval_body", eval_comparison)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _definite_paths(patches)
    _result_paths_parsed_once(patches)
    _string_matches(patches)
    _context_paths_in_choice_rules(patches)
