"""JSONata and workflow variables, evaluated for real.

moto's interpreter parses JSONata states and ``Assign`` but its evaluator is a stub
(it called a JVM bridge that is not there), so every ``{% %}`` expression and
every ``$variable`` reference failed with States.Runtime. Here each expression is
evaluated by `jsonata-python`_, a maintained pure-Python port of the JSONata
reference implementation (no JVM, no Node; it passes the reference test suite's
cases but a handful), with its bindings passed as values: ``$states`` (input,
result, errorOutput, context), the workflow variables in scope, and the functions
Step Functions adds.

Step Functions runs JSONata 2.0.6 and documents its limits ("Transforming data
with JSONata in Step Functions"): every built-in function and operator of 2.0.6
except ``$eval`` (use ``$parse``). The ``??`` and ``?:`` operators came in 2.1.0,
so they are refused here too. An expression that fails, returns nothing
(undefined) or is refused fails its state with ``States.QueryEvaluationError``; so
does one whose value a number field cannot take (a string for a Wait's
``Seconds``, a ``TimeoutSeconds``, a ``MaxConcurrency``…; moto: States.Runtime).

Functions Step Functions adds, as its docs define them:
``$partition(array, size)``, ``$range(start, end, step)`` (end included),
``$hash(value, algorithm)`` (MD5, SHA-1, SHA-256, SHA-384, SHA-512; hex),
``$random([seed])`` (a seed makes it repeatable), ``$uuid()`` (version 4) and
``$parse(json_string)``.

Variables keep the limits of the variables page ("Passing data between states with
variables"): a variable holds at most 256 KiB, one ``Assign`` at most 256 KiB in all,
an execution's variables at most 10 MiB; past one, the state fails with
``States.DataLimitExceeded`` (moto stored any size).

.. _jsonata-python: https://pypi.org/project/jsonata-python/
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import jsonata
from jsonata.jexception import JException
from jsonata.tokenizer import Tokenizer
from jsonata.utils import Utils

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
NOT_IN_2_0_6 = {"??": "the ?? operator", "?:": "the ?: operator"}


class QueryEvaluationError(Exception):
    """An expression Step Functions would fail with States.QueryEvaluationError; the message says why."""


def _partition(array: Any, size: Any) -> list[list[Any]]:
    if not isinstance(array, list) or not isinstance(size, int | float) or size < 1 or size != int(size):
        raise QueryEvaluationError("$partition takes an array and a positive whole chunk size")
    step = int(size)
    return [list(array[i : i + step]) for i in range(0, len(array), step)]


def _range(start: Any, end: Any, step: Any = 1) -> list[float | int]:
    if not all(isinstance(v, int | float) for v in (start, end, step)) or step == 0:
        raise QueryEvaluationError("$range takes numbers start, end and a non-zero step")
    values: list[float | int] = []
    value = start
    while (step > 0 and value <= end) or (step < 0 and value >= end):
        values.append(value)
        value += step
    return values


def _hash(value: Any, algorithm: Any) -> str:
    if not isinstance(value, str):
        raise QueryEvaluationError("$hash takes a string to hash")
    if algorithm not in HASH_ALGORITHMS:
        raise QueryEvaluationError(f"$hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    return hashlib.new(HASH_ALGORITHMS[algorithm], value.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    if seed is None:
        return random.random()  # noqa: S311 - a workflow's $random is not for secrets
    return random.Random(seed).random()  # noqa: S311


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise QueryEvaluationError("$parse takes a JSON string")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryEvaluationError(f"$parse could not parse {text!r}: {exc}") from exc


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": lambda: str(uuid.uuid4()),
    "parse": _parse,
}


def _refuse_what_aws_lacks(expression: str) -> None:
    tokens = Tokenizer(expression)
    prefix = False
    while True:
        try:
            token = tokens.next(prefix)
        except JException:
            return  # a syntax error: the parser says it better
        if token is None:
            return
        if token.type == "operator" and token.value in NOT_IN_2_0_6:
            raise QueryEvaluationError(
                f"{NOT_IN_2_0_6[token.value]} is JSONata 2.1; Step Functions runs JSONata 2.0.6"
            )
        if token.type == "variable" and token.value == "eval":
            raise QueryEvaluationError("$eval is not available in Step Functions: use $parse")
        prefix = token.type == "operator" and token.value not in (")", "]", "}")


def evaluate(expression: str, bindings: Mapping[str, Any]) -> Any:
    """The value of a JSONata expression, or :data:`UNDEFINED` when it returns nothing."""
    _refuse_what_aws_lacks(expression)
    try:
        compiled = jsonata.Jsonata(expression)
        compiled.set_output_convert_nulls(False)
        functions = {name: jsonata.Jsonata.JLambda(function) for name, function in FUNCTIONS.items()}
        result = compiled.evaluate(None, {**functions, **bindings})
    except QueryEvaluationError:
        raise
    except JException as exc:
        raise QueryEvaluationError(str(exc)) from exc
    except (ValueError, TypeError, ZeroDivisionError, RecursionError) as exc:
        raise QueryEvaluationError(f"{type(exc).__name__}: {exc}") from exc
    if result is None:
        return UNDEFINED
    return Utils.convert_nulls(result)


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()


def _variables(env: Any) -> dict[str, Any]:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}


def _number_fields() -> list[type]:
    """moto's JSONata forms of the fields that hold a number, each of which converts with ``int()``."""
    from moto.stepfunctions.parser.asl.component.common.timeouts import heartbeat, timeout
    from moto.stepfunctions.parser.asl.component.state.exec.state_map import (
        max_concurrency,
        tolerated_failure,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config import (
        max_items_decl,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import seconds

    return [
        timeout.TimeoutSecondsJSONata,
        heartbeat.HeartbeatSecondsJSONata,
        max_concurrency.MaxConcurrencyJSONata,
        max_items_decl.MaxItemsStringJSONata,
        tolerated_failure.ToleratedFailureCountStringJSONata,
        tolerated_failure.ToleratedFailurePercentageStringJSONata,
        seconds.SecondsJSONata,
    ]


def _refusing_what_is_not_a_number(method: Callable[..., Any], fail: Callable[[Any, str], Any]) -> Any:
    def evaluated(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, env, *args, **kwargs)
        except (ValueError, TypeError) as exc:
            expression = getattr(getattr(self, "string_jsonata", None), "expression", "")
            fail(env, f"The JSONata expression '{expression}' is not a number here: {exc}")

    return evaluated


VARIABLE_LIMIT_BYTES = 262_144  # one variable, and one Assign's variables together
VARIABLES_LIMIT_BYTES = 10 * 1024 * 1024  # an execution's variables


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _variables_within_limits(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl

    from localcloud.patches.stepfunctions.errors import state_failure

    def eval_body(self: Any, env: Any) -> None:
        declarations: dict[str, Any] = {}
        for binding in self.declaration_bindings:
            binding.eval(env=env)
            declarations.update(env.stack.pop())
        sizes = {name: _size(value) for name, value in declarations.items()}
        too_big = [name for name, size in sizes.items() if size > VARIABLE_LIMIT_BYTES]
        kept = {**_variables(env), **declarations}
        problem = (
            f"the variable {too_big[0]!r} would hold {sizes[too_big[0]]} bytes, over {VARIABLE_LIMIT_BYTES}"
            if too_big
            else f"the Assign holds {sum(sizes.values())} bytes, over {VARIABLE_LIMIT_BYTES}"
            if sum(sizes.values()) > VARIABLE_LIMIT_BYTES
            else f"the execution's variables would hold over {VARIABLES_LIMIT_BYTES} bytes"
            if sum(_size(v) for v in kept.values()) > VARIABLES_LIMIT_BYTES
            else None
        )
        if problem:
            raise state_failure(env, "States.DataLimitExceeded", f"Assign: {problem}")
        for name, value in declarations.items():
            env.variable_store.set(variable_identifier=name, variable_value=value)

    patches.replace(AssignDecl, "_eval_body", eval_body)


def _query_language_per_parse(patches: Patches) -> None:
    """Each parse keeps its own stack of query-language scopes; moto's is one class-level list
    that every parse (of every definition, in every thread) pushed to, so a JSONPath state
    could be read as JSONata, or the reverse."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def own_scopes(self: Any, *args: Any, **kwargs: Any) -> None:
        super(Preprocessor, self).__init__(*args, **kwargs)
        self._query_language_per_scope = []

    patches.replace(Preprocessor, "__init__", own_scopes)


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore

    def fail(env: Any, cause: str) -> NoReturn:
        error = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
        details = EvaluationFailedEventDetails(error=error.error_name, cause=cause)
        event = FailureEvent(
            env=env,
            error_name=error,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=EventDetails(evaluationFailedEventDetails=details),
        )
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=EventDetails(evaluationFailedEventDetails=details),
        )
        raise FailureEventException(failure_event=event)

    def value_of(env: Any, expression: str, bindings: dict[str, Any]) -> Any:
        try:
            result = evaluate(expression, bindings)
        except QueryEvaluationError as exc:
            fail(env, f"The JSONata expression '{expression}' failed: {exc}")
        if result is UNDEFINED:
            fail(env, f"The JSONata expression '{expression}' returned nothing (undefined).")
        return result

    def eval_jsonata(self: Any, env: Any) -> None:
        bindings = {"states": env.states._states_data, **_variables(env)}
        env.stack.append(value_of(env, self.expression, bindings))

    def eval_variable_sample(self: Any, env: Any) -> None:
        bindings = _variables(env)
        if self.query_language_mode == QueryLanguageMode.JSONata:
            bindings["states"] = env.states._states_data
        env.stack.append(value_of(env, self.expression, bindings))

    def assigned_variables(self: Any) -> dict[str, str]:
        # AWS lists each assigned variable's value as JSON (moto quoted strings unescaped)
        return {name: json.dumps(self.get(name), separators=(",", ":")) for name in self._declaration_tracing}

    for owner in _number_fields():
        for name, method in list(vars(owner).items()):
            if callable(method) and name.startswith("_") and not name.startswith("__"):
                patches.replace(owner, name, _refusing_what_is_not_a_number(method, fail))
    patches.replace(string_expression.StringJSONata, "_eval_body", eval_jsonata)
    patches.replace(string_expression.StringVariableSample, "_eval_body", eval_variable_sample)
    patches.replace(VariableStore, "get_assigned_variables", assigned_variables)
    _variables_within_limits(patches)
    _query_language_per_parse(patches)
