"""The contract check: every Task of every flow against its function's contracts.

For each ``lambda:invoke`` Task whose ``FunctionName`` is a capability's
``${<Capability>Function}`` (``${RequestReviewFunction}`` for ``request_review``),
against the contracts its manifest names:

- its ``Payload`` must name every required field of the capability's input contract,
  and nothing the contract does not have (``Payload.$`` passing a whole state, or in
  JSONata a ``Payload`` that is one ``{% %}`` expression, is refused: a flow names what
  it passes);
- every ``$.Payload...`` path it reads (``ResultSelector``, ``OutputPath``), or in JSONata
  every ``$states.result.Payload...`` its ``Output`` and ``Assign`` read, must exist in the
  output contract.

Broken wiring fails here, in the tests and at synth, before anything is deployed.

This module is also where a definition is read the way Step Functions reads it, for the
contract check, the weaving (``infra.weave``) and the grants (``infra.constructs.flow``):
:func:`walk_states`, a state's query language (:func:`language_of`), what a Task passes
(:func:`arguments_of`, :func:`passed_fields`) and the fields each query language refuses
(:func:`language_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard, get_args, get_origin

from pydantic import BaseModel

from aiflows.registry import CapabilityInfo, by_binding

# the Resources of a Task that invokes a Lambda function (request-response, or waiting for its token)
LAMBDA_INVOKE = ("arn:aws:states:::lambda:invoke", "arn:aws:states:::lambda:invoke.waitForTaskToken")
_SUBSTITUTION = re.compile(r"^\$\{(\w+)\}$")

JSONPATH = "JSONPath"
JSONATA = "JSONata"


def walk_states(definition: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Parallel branches and Map processors."""
    for name, state in definition.get("States", {}).items():
        path = f"{prefix}{name}"
        yield path, state
        for branch in state.get("Branches", []):
            yield from walk_states(branch, f"{path}/")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from walk_states(processor, f"{path}/")


def is_distributed_map(state: Mapping[str, Any]) -> bool:
    """A Map whose iterations are child executions (``ProcessorConfig.Mode: DISTRIBUTED``), not inline.

    A child execution runs the ItemProcessor as a state machine of its own: its context object
    (``$$``, ``$states.context``) is its own, its ``Execution.Input`` the item it was given, and
    its states cannot reach the parent's.
    """
    processor = state.get("ItemProcessor")
    config = processor.get("ProcessorConfig") if isinstance(processor, Mapping) else None
    return state.get("Type") == "Map" and isinstance(config, Mapping) and config.get("Mode") == "DISTRIBUTED"


def machine_language(definition: Mapping[str, Any]) -> str:
    """The machine's ``QueryLanguage`` (its top level): JSONPath unless it says JSONata."""
    return str(definition.get("QueryLanguage") or JSONPATH)


def language_of(state: Mapping[str, Any], definition: Mapping[str, Any]) -> str:
    """A state's query language: its own ``QueryLanguage``, else the machine's.

    ``definition`` is the whole machine: a state of a Parallel branch or a Map processor
    inherits the top level's, as every state does, not its enclosing state's.
    """
    return str(state.get("QueryLanguage") or machine_language(definition))


def is_expression(value: object) -> TypeGuard[str]:
    """A JSONata expression: a string ``"{% ... %}"`` (any other string is a literal)."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def expression_body(value: str) -> str:
    """``$states.input.x`` of ``"{% $states.input.x %}"``."""
    return value[2:-2].strip()


def arguments_of(state: Mapping[str, Any], language: str) -> dict[str, Any]:
    """What a Task passes to its resource: ``Parameters`` in JSONPath, ``Arguments`` in JSONata.

    The dict itself (the weaving edits it in place), or ``{}`` when the state passes nothing
    or, in JSONata, one ``{% %}`` expression for all of it.
    """
    value = state.get("Arguments" if language == JSONATA else "Parameters")
    return value if isinstance(value, dict) else {}


def named_at_run_time(arguments: Mapping[str, Any], field: str, language: str) -> bool:
    """Whether ``field`` is computed when the state runs: ``field.$`` in JSONPath, ``{% %}`` in JSONata."""
    if language == JSONATA:
        return is_expression(arguments.get(field))
    return f"{field}.$" in arguments


def passed_fields(payload: Mapping[str, Any], language: str) -> set[str]:
    """The fields an object passes: its keys, without the ``.$`` of a JSONPath one."""
    if language == JSONATA:
        return set(payload)
    return {key.removesuffix(".$") for key in payload}


# The fields of a state (or of a Catch, or a Choice rule) that only one query language has,
# and what to write in the other instead. Arguments and Output replace the five JSONPath
# fields; a ...Path field becomes its plain field with a {% %} expression.
_ARGUMENTS = "write Arguments: its keys without .$, its values literal or {% %} expressions"
_OUTPUT = "write Output (and Assign), reading $states.input and $states.result"
JSONPATH_ONLY: dict[str, str] = {
    "InputPath": "read $states.input in Arguments or Output instead",
    "Parameters": _ARGUMENTS,
    "ResultSelector": _OUTPUT,
    "ResultPath": _OUTPUT,
    "OutputPath": _OUTPUT,
    **{
        f"{field}Path": f"write {field} as a {{% %}} expression"
        for field in (
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Items",
            "MaxConcurrency",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
            "Seconds",
            "Timestamp",
            "Error",
            "Cause",
        )
    },
}
JSONATA_ONLY: dict[str, str] = {
    "Arguments": "Parameters",
    "Output": "ResultSelector, ResultPath or OutputPath",
    "Items": "ItemsPath",
}
# the fields of a JSONata state whose keys are written as they are passed (no .$)
_TEMPLATES = ("Arguments", "Output", "Assign", "ItemSelector")
# a Catch of a JSONata state keeps its error with Output (or Assign), reading $states.errorOutput
KEEP_FAILURE = "{% $merge([$states.input, {'failure': $states.errorOutput}]) %}"
_CHOICE_JSONPATH = ("Variable", "And", "Or", "Not")
# the parts of a Distributed Map that pass arguments to S3, in Parameters (JSONPath) or Arguments (JSONata)
_MAP_IO = ("ItemReader", "ResultWriter")


def _dollar_keys(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$"):
                yield f"{prefix}{key}"
            yield from _dollar_keys(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for item in value:
            yield from _dollar_keys(item, prefix)


def state_language_problems(path: str, state: Mapping[str, Any], definition: Mapping[str, Any]) -> list[str]:
    """What Step Functions refuses in one state for its query language, each with its fix."""
    own = state.get("QueryLanguage")
    where = f"state {path}"
    if own is not None and own not in (JSONPATH, JSONATA):
        return [f"{where}: QueryLanguage {own!r} is neither JSONPath nor JSONata"]
    if own == JSONPATH and machine_language(definition) == JSONATA:
        return [
            f"{where}: QueryLanguage JSONPath in a JSONata machine, which AWS refuses: write the state "
            "in JSONata, or make the machine JSONPath and set QueryLanguage JSONata on its JSONata states"
        ]
    language = language_of(state, definition)
    why = "its QueryLanguage" if own else "the machine's QueryLanguage"
    catches = [c for c in state.get("Catch") or [] if isinstance(c, dict)]
    rules = [r for r in state.get("Choices") or [] if isinstance(r, dict)]
    io = [(field, state[field]) for field in _MAP_IO if isinstance(state.get(field), dict)]
    problems: list[str] = []
    if language == JSONATA:
        for field, fix in JSONPATH_ONLY.items():
            if field in state:
                problems.append(f"{where} is JSONata ({why}), but has {field}, a JSONPath field: {fix}")
        if any("ResultPath" in catch for catch in catches):
            problems.append(
                f"{where} is JSONata ({why}), but a Catch has ResultPath, a JSONPath field: a JSONata "
                f'Catch keeps the error with Output, e.g. "Output": "{KEEP_FAILURE}"'
            )
        if any(key in rule for rule in rules for key in _CHOICE_JSONPATH):
            problems.append(
                f"{where} is JSONata ({why}), but a Choice rule has Variable, And, Or or Not (JSONPath): "
                'a JSONata rule is a Condition, e.g. "Condition": "{% $states.input.ok %}"'
            )
        for field, config in io:
            if "Parameters" in config:
                problems.append(
                    f"{where} is JSONata ({why}), but its {field} has Parameters, a JSONPath field: "
                    + _ARGUMENTS
                )
        holders = [state, *catches, *rules, *(config for _, config in io)]
        dollars = [key for h in holders for field in _TEMPLATES for key in _dollar_keys(h.get(field))]
        if dollars:
            problems.append(
                f"{where} is JSONata ({why}), but names {', '.join(dollars)}: JSONata keys take no .$; "
                'write the key as it is passed, its value a {% %} expression, e.g. "document": '
                '"{% $states.input.detail %}"'
            )
        return problems
    for field, instead in JSONATA_ONLY.items():
        if field in state:
            problems.append(
                f"{where} is JSONPath ({why}), but has {field}, a JSONata field: set QueryLanguage "
                f"JSONata on the state (or the machine), or write {instead}"
            )
    for field, config in io:
        if "Arguments" in config:
            problems.append(
                f"{where} is JSONPath ({why}), but its {field} has Arguments, a JSONata field: set "
                "QueryLanguage JSONata on the state (or the machine), or write Parameters"
            )
    if any("Output" in catch for catch in catches):
        problems.append(
            f"{where} is JSONPath ({why}), but a Catch has Output, a JSONata field: set QueryLanguage "
            'JSONata on the state, or keep the error with "ResultPath": "$.failure"'
        )
    if any("Condition" in rule for rule in rules):
        problems.append(
            f"{where} is JSONPath ({why}), but a Choice rule has a Condition, a JSONata field: set "
            "QueryLanguage JSONata on the state, or write the rule with Variable"
        )
    return problems


def language_problems(definition: Mapping[str, Any]) -> list[str]:
    """What Step Functions refuses in the definition for its query languages, state by state."""
    machine = definition.get("QueryLanguage")
    if machine is not None and machine not in (JSONPATH, JSONATA):
        return [f"the machine's QueryLanguage {machine!r} is neither JSONPath nor JSONata"]
    return [
        problem
        for path, state in walk_states(dict(definition))
        for problem in state_language_problems(path, state, definition)
    ]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None and get_origin(annotation) is not dict:
            return found
    return None


def _path_exists(model: type[BaseModel], segments: list[str]) -> bool:
    current: type[BaseModel] | None = model
    for segment in segments:
        if current is None:
            return True  # below a dict or a scalar list: not statically known
        field = current.model_fields.get(segment)
        if field is None:
            return False
        annotation = field.annotation
        if get_origin(annotation) is dict:
            return True
        current = _model_of(annotation)
    return True


def _payload_paths(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str):
                yield item
            else:
                yield from _payload_paths(item)


def _expressions(value: Any) -> Iterator[str]:
    if is_expression(value):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


# $states.result.Payload, then its fields (a [predicate] or [index] after one is left out)
_RESULT_READ = re.compile(r"\$states\.result\.Payload((?:\.[A-Za-z_]\w*(?:\[[^\]]*\])*)*)")


def _reads(state: Mapping[str, Any], language: str) -> Iterator[tuple[str, list[str]]]:
    """Each read of the function's Payload: as written, and its fields."""
    if language == JSONATA:
        for expression in _expressions([state.get("Output"), state.get("Assign")]):
            for match in _RESULT_READ.finditer(expression):
                segments = [re.sub(r"\[.*\]$", "", s) for s in match.group(1).split(".") if s]
                yield match.group(0), segments
        return
    reads = list(_payload_paths(state.get("ResultSelector", {})))
    if isinstance(state.get("OutputPath"), str):
        reads.append(state["OutputPath"])
    for read in reads:
        if read.startswith("$.Payload"):
            segments = [s for s in read.removeprefix("$.Payload").split(".") if s]
            yield read, [re.sub(r"\[.*\]$", "", s) for s in segments]


def check_definition(
    definition: dict[str, Any], flow: str = "flow", bindings: Mapping[str, CapabilityInfo] | None = None
) -> list[str]:
    """Every problem of the definition's capability Tasks; ``bindings`` maps ``${Name}`` to a capability.

    A state that breaks its query language's rules (:func:`state_language_problems`) is
    reported as such, and not checked further.
    """
    capabilities = by_binding() if bindings is None else bindings
    problems: list[str] = []
    for path, state in walk_states(definition):
        wrong = state_language_problems(path, state, definition)
        if wrong:
            problems.extend(f"{flow}: {problem}" for problem in wrong)
            continue
        if state.get("Type") != "Task" or state.get("Resource") not in LAMBDA_INVOKE:
            continue
        where = f"{flow}: {path}"
        language = language_of(state, definition)
        arguments = arguments_of(state, language)
        match = _SUBSTITUTION.match(str(arguments.get("FunctionName", "")))
        if not match:
            problems.append(f"{where}: FunctionName must be a capability's ${{<Capability>Function}}")
            continue
        info = capabilities.get(match.group(1))
        if info is None:
            known = ", ".join(f"${{{name}}}" for name in sorted(capabilities))
            problems.append(
                f"{where}: ${{{match.group(1)}}} is no capability's function (functions/*/capability.toml "
                f"gives {known}); fix the name, or add the capability's folder"
            )
            continue
        input_model, output_model = info.input_model, info.output_model
        if named_at_run_time(arguments, "Payload", language):
            if language == JSONPATH:
                problems.append(f"{where}: passes a whole state (Payload.$); name the fields it passes")
            else:
                problems.append(
                    f"{where}: passes one {{% %}} expression as its Payload; name the fields it passes, "
                    "each with its own expression"
                )
            continue
        payload = arguments.get("Payload")
        passed = passed_fields(payload if isinstance(payload, dict) else {}, language)
        required = {name for name, field in input_model.model_fields.items() if field.is_required()}
        for name in sorted(required - passed):
            problems.append(f"{where}: Payload misses {name!r}, required by {input_model.__name__}")
        for name in sorted(passed - set(input_model.model_fields)):
            problems.append(f"{where}: Payload passes {name!r}, which {input_model.__name__} does not take")
        for read, segments in _reads(state, language):
            if not _path_exists(output_model, segments):
                problems.append(f"{where}: reads {read}, which {output_model.__name__} does not promise")
    return problems


def check_all() -> list[str]:
    """The problems of every flow's definition, as it deploys (woven)."""
    from aiflows.flows import flows

    problems: list[str] = []
    for flow in flows().values():
        problems.extend(check_definition(flow.woven(), flow.name, flow.capability_bindings()))
    return problems


if __name__ == "__main__":
    found = check_all()
    print("\n".join(found) or "every Task matches its contracts")
    raise SystemExit(1 if found else 0)
