"""The contract check: every Task of every flow against its function's contracts.

For each ``lambda:invoke`` Task whose ``FunctionName`` is a capability's
``${<Capability>Function}`` (``${RequestReviewFunction}`` for ``request_review``),
against the contracts its manifest names:

- its ``Payload`` must name every required field of the capability's input contract,
  and nothing the contract does not have (``Payload.$`` passing a whole state is
  refused: a flow names what it passes);
- every ``$.Payload...`` path it reads (``ResultSelector``, ``OutputPath``) must exist
  in the output contract.

Broken wiring fails here, in the tests and at synth, before anything is deployed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from aiflows.registry import CapabilityInfo, by_binding

# the Resources of a Task that invokes a Lambda function (request-response, or waiting for its token)
LAMBDA_INVOKE = ("arn:aws:states:::lambda:invoke", "arn:aws:states:::lambda:invoke.waitForTaskToken")
_SUBSTITUTION = re.compile(r"^\$\{(\w+)\}$")


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


def check_definition(
    definition: dict[str, Any], flow: str = "flow", bindings: Mapping[str, CapabilityInfo] | None = None
) -> list[str]:
    """Every problem of the definition's capability Tasks; ``bindings`` maps ``${Name}`` to a capability."""
    capabilities = by_binding() if bindings is None else bindings
    problems: list[str] = []
    for path, state in walk_states(definition):
        if state.get("Type") != "Task" or state.get("Resource") not in LAMBDA_INVOKE:
            continue
        where = f"{flow}: {path}"
        parameters = state.get("Parameters", {})
        match = _SUBSTITUTION.match(str(parameters.get("FunctionName", "")))
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
        if "Payload.$" in parameters:
            problems.append(f"{where}: passes a whole state (Payload.$); name the fields it passes")
            continue
        passed = {key.removesuffix(".$") for key in parameters.get("Payload", {})}
        required = {name for name, field in input_model.model_fields.items() if field.is_required()}
        for name in sorted(required - passed):
            problems.append(f"{where}: Payload misses {name!r}, required by {input_model.__name__}")
        for name in sorted(passed - set(input_model.model_fields)):
            problems.append(f"{where}: Payload passes {name!r}, which {input_model.__name__} does not take")
        reads = list(_payload_paths(state.get("ResultSelector", {})))
        if isinstance(state.get("OutputPath"), str):
            reads.append(state["OutputPath"])
        for read in reads:
            if not read.startswith("$.Payload"):
                continue
            segments = [s for s in read.removeprefix("$.Payload").split(".") if s]
            segments = [re.sub(r"\[.*\]$", "", s) for s in segments]
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
