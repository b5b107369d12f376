"""What the project holds: its capabilities (``functions/<name>/``) and its flows (``statemachines/<name>/``).

Everything that needs to know them asks here: the stack builds a function per
capability and a state machine per flow, the contract check reads each flow's Tasks
against the capabilities' contracts, the local model answers any capability from its
output contract, and the tests derive what they expect from the same lists. Adding a
capability or a flow is adding its folder; nothing central is edited.

A capability folder is a Python package, imported under its folder's name, as the
Lambda runtime imports it (its handler is ``<name>.handler.lambda_handler``), so two
capabilities' ``logic`` modules never clash. A folder that breaks a rule is refused
with a :class:`RegistryError` naming the file, the place and the fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import math
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from aiflows_runtime.deadlines import call_seconds, minimum_function_seconds
from aiflows_runtime.manifest import MANIFEST, CapabilityManifest, ManifestError, load_manifest
from aiflows_runtime.policies import routing_policy
from aiflows_runtime.prompts import PromptError, PromptTemplate, load, versions

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
# Names a capability folder may not take: they would shadow the project's own packages.
_RESERVED = frozenset(
    {"aiflows", "aiflows_runtime", "infra", "localcloud", "tests", "evals", "bench", "runtime"}
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RegistryError(ManifestError):
    """A capability or flow folder that the framework cannot use as it is: the message says how to fix it."""


def camel(name: str) -> str:
    """``request_review`` -> ``RequestReview``: how a capability is named in a definition."""
    return "".join(part.capitalize() for part in name.split("_"))


@dataclass(frozen=True)
class CapabilityInfo:
    """One capability folder, read and checked."""

    name: str
    folder: Path
    manifest: CapabilityManifest
    input_model: type[BaseModel]
    output_model: type[BaseModel]

    @property
    def binding(self) -> str:
        """The ``${Name}`` a definition uses for its function: ``${ClassifyFunction}``."""
        return f"{camel(self.name)}Function"

    @property
    def route_models(self) -> tuple[str, ...]:
        """The models its route calls, primary first; none for a capability that asks no model."""
        return self.manifest.model.models if self.manifest.model else ()

    def module(self, name: str) -> ModuleType:
        return capability_module(self.name, name, self.folder.parent)

    def prompt(self) -> PromptTemplate | None:
        route = self.manifest.model
        return load(self.folder, self.name, route.prompt) if route else None

    def answer_model(self) -> type[BaseModel] | None:
        """The model of its contract that its prompt's answer must satisfy."""
        prompt = self.prompt()
        return _model_named(self.module("contract"), prompt.output_model) if prompt else None


def _package(folder: Path) -> ModuleType:
    """The capability folder as the package ``<folder name>``, imported once per process."""
    name = folder.name
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").parent == folder:
            return loaded
        raise RegistryError(
            f"{folder}: a module named {name!r} is already imported from {getattr(loaded, '__file__', '?')}; "
            "rename the capability folder"
        )
    init = folder / "__init__.py"
    if not init.is_file():
        raise RegistryError(f"{folder}: no __init__.py; a capability folder is a package: add an empty one")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def capability_module(capability: str, module: str = "handler", root: Path = FUNCTIONS) -> ModuleType:
    """A module of a capability folder, imported as its Lambda imports it (``classify.handler``)."""
    _package(root / capability)
    return importlib.import_module(f"{capability}.{module}")


def _model_named(contract: ModuleType, name: str) -> type[BaseModel] | None:
    found = getattr(contract, name, None)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def name_problem(name: str) -> str | None:
    """Why a capability's or a flow's folder may not be named so, if it may not."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        return f"{name!r} is not a name: use lower_snake_case (letters, digits, _), starting with a letter"
    if name in sys.stdlib_module_names or name in _RESERVED:
        return f"{name!r} would shadow the Python module {name!r} (in a function, or in this project)"
    return None


def _check_name(folder: Path) -> None:
    problem = name_problem(folder.name)
    if problem:
        raise RegistryError(f"{folder / MANIFEST}: the folder name {problem}; rename the folder")


def read_capability(folder: Path) -> CapabilityInfo:
    """Read and check one capability folder."""
    _check_name(folder)
    manifest = load_manifest(folder)
    path = folder / MANIFEST
    if not (folder / "handler.py").is_file():
        raise RegistryError(f"{folder}: no handler.py; a capability needs handler.lambda_handler")
    if not (folder / "contract.py").is_file():
        raise RegistryError(f"{folder}: no contract.py; it holds the models input and output name")
    contract = capability_module(folder.name, "contract", folder.parent)
    models: dict[str, type[BaseModel]] = {}
    for key in ("input", "output"):
        model_name = getattr(manifest, key)
        model = _model_named(contract, model_name)
        if model is None:
            raise RegistryError(
                f"{path}: {key} = {model_name!r}, but {folder / 'contract.py'} defines no pydantic model "
                f"{model_name}; define it there or name one it defines"
            )
        models[key] = model
    info = CapabilityInfo(folder.name, folder, manifest, models["input"], models["output"])
    _check_route(info, contract)
    return info


def _check_route(info: CapabilityInfo, contract: ModuleType) -> None:
    route = info.manifest.model
    path = info.folder / MANIFEST
    if route is None:
        return
    priced = routing_policy().models
    for model in route.models:
        if model not in priced:
            raise RegistryError(
                f"{path}: [model] routes to {model!r}, which policies/routing.toml does not price; add "
                f'[models."{model}"] with input_per_1k and output_per_1k there, or route to one of '
                f"{sorted(priced)}"
            )
    gateway = routing_policy().gateway
    needed = minimum_function_seconds(route, gateway)
    if info.manifest.timeout_seconds < needed:
        raise RegistryError(
            f"{path}: timeout_seconds = {info.manifest.timeout_seconds} cannot hold one call of each of "
            f"its {len(route.models)} models ({call_seconds(gateway):g} s each: connect and read timeouts "
            f"of policies/routing.toml) and the {gateway.deadline_margin_seconds:g} s margin; set "
            f"timeout_seconds = {math.ceil(needed)} or more (and [task].timeout_seconds at least that), "
            "or route to fewer models"
        )
    try:
        prompt = load(info.folder, info.name, route.prompt)
    except PromptError as exc:
        raise RegistryError(
            f"{path}: [model].prompt = {route.prompt!r}: {exc}; write it, or name one of "
            f"{versions(info.folder)}"
        ) from None
    if _model_named(contract, prompt.output_model) is None:
        raise RegistryError(
            f"{info.folder / 'prompts' / (route.prompt + '.toml')}: output_model = {prompt.output_model!r}, "
            f"which {info.folder / 'contract.py'} does not define; define it there"
        )
    known = prompt_fields(info.input_model)
    for variable in prompt.variables:
        if variable not in known:
            raise RegistryError(
                f"{info.folder / 'prompts' / (route.prompt + '.toml')}: the variable ${variable} is not a "
                f"field of {info.input_model.__name__} (nor of a model inside it: {sorted(known)}); add "
                f"the field to the input contract, or use one it has"
            )


def prompt_fields(model: type[BaseModel]) -> set[str]:
    """What a prompt may name: the contract's fields, and the fields of the models inside it."""
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            names |= set(inner.model_fields)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is dict:
        return []
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


@cache
def capabilities(root: Path = FUNCTIONS) -> dict[str, CapabilityInfo]:
    """Every capability folder (one with a ``capability.toml``), by name."""
    return {path.parent.name: read_capability(path.parent) for path in sorted(root.glob(f"*/{MANIFEST}"))}


def by_binding(root: Path = FUNCTIONS) -> dict[str, CapabilityInfo]:
    """The capabilities by the ``${Name}`` a definition uses for their functions."""
    found: dict[str, CapabilityInfo] = {}
    for info in capabilities(root).values():
        other = found.setdefault(info.binding, info)
        if other is not info:
            raise RegistryError(
                f"{info.folder / MANIFEST}: functions/{info.name} and functions/{other.name} are both "
                f"${{{info.binding}}} in a definition; rename one of the folders"
            )
    return found
