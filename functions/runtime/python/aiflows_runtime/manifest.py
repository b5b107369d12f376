"""A capability's manifest, ``functions/<name>/capability.toml``: what the framework needs to know.

The manifest declares the capability's contracts (model names in its ``contract.py``),
its model route, what it reaches, its function's size and its Task defaults. The
stack builds the function from it, the flows' Tasks get its defaults woven in, and
the function itself reads its model route from it at run time, so the route that is
granted at synth is the route that is called.

A manifest that breaks these rules fails to load with :class:`ManifestError`, whose
message names the file, the place in it and the fix.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MANIFEST = "capability.toml"


class ManifestError(ValueError):
    """A manifest (a capability's or a flow's) that cannot be used as written."""


class Section(BaseModel):
    """A table of a manifest: every key known, nothing else accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRoute(Section):
    """Which models the capability asks, with which prompt, and how."""

    prompt: str = Field(description="a version of the capability's prompts/ folder, e.g. v1")
    primary: str = Field(min_length=1, description="a model id priced in routing.toml")
    fallbacks: tuple[str, ...] = ()
    max_tokens: int = Field(gt=0)
    temperature: float = Field(ge=0, le=1)
    cacheable: bool = False

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.primary, *self.fallbacks)))

    @model_validator(mode="after")
    def _names_models_not_profiles(self) -> ModelRoute:
        from aiflows_runtime.policies import routing_policy  # the policy reads this module's errors

        for model in self.models:
            base = routing_policy().profile_of(model)
            if base is not None:
                key = "primary" if model == self.primary else "fallbacks"
                raise ValueError(
                    f"{key} names {model!r}, an inference profile id, which policies/routing.toml does not "
                    f"price: a route names the model, {base!r}, and routing.toml gives the id each deploy "
                    f"region calls it by (its in_region, or a profile); write {base!r} instead "
                    "(docs/capabilities.md#models-per-region)"
                )
        return self


class Reaches(Section):
    """What the function may touch besides the state table, which every capability uses."""

    claims: Literal["read", "read_write", "read_redact"] | None = Field(
        default=None, description="the claim bucket: read texts, write them, or write redacted copies"
    )
    bus: bool = Field(default=False, description="puts events on the flows' bus")
    corpus: bool = Field(default=False, description="reads the retrieval corpus")
    work_queue: bool = Field(
        default=False, description="is fed by the work queue and answers the flows' task tokens"
    )
    actions: bool = Field(default=False, description="reads every flow's action policy (its actions.toml)")
    batch_results: bool = Field(
        default=False,
        description="lists and reads a batch flow's Distributed Map results (batches/ in the claim bucket)",
    )


LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # an environment that died (out of memory, a crash): Step Functions reports an unhandled
    # Lambda error as Lambda.Unknown; the runtime's own name for an exit is Runtime.ExitError.
    # Every step that has a side effect is idempotent, so a retry does not repeat it.
    "Lambda.Unknown",
    "Runtime.ExitError",
)


class TaskDefaults(Section):
    """What a flow's Task that invokes the capability gets when it does not say otherwise."""

    timeout_seconds: int = Field(default=60, gt=0, description="the Task's TimeoutSeconds")
    retry_on: tuple[str, ...] = Field(
        default=(),
        description="errors retried besides Lambda's service errors and throttling (always retried)",
    )
    max_attempts: int = Field(default=3, ge=0)
    interval_seconds: int = Field(default=2, ge=1)
    backoff_rate: float = Field(default=2.0, ge=1)
    max_delay_seconds: int = Field(default=20, ge=1)


class CapabilityManifest(Section):
    description: str = Field(min_length=1)
    input: str = Field(description="the input contract: a model of the capability's contract.py")
    output: str = Field(description="the output contract: a model of the capability's contract.py")
    memory_mb: int = Field(default=512, ge=128, le=10240)
    timeout_seconds: int = Field(default=30, ge=1, le=900, description="the function's timeout")
    model: ModelRoute | None = None
    reaches: Reaches = Reaches()
    task: TaskDefaults = TaskDefaults()

    @model_validator(mode="after")
    def _the_task_outlasts_the_function(self) -> CapabilityManifest:
        if not self.reaches.work_queue and self.task.timeout_seconds < self.timeout_seconds:
            raise ValueError(
                f"[task].timeout_seconds = {self.task.timeout_seconds} is shorter than the function's "
                f"timeout_seconds = {self.timeout_seconds}: the Task would time out while the function "
                "still runs, and its retry would meet the same call in progress; make the Task's longer"
            )
        return self


def problems(exc: ValidationError) -> str:
    """Each problem of a TOML file as ``[section].key: what is wrong``."""
    lines = []
    for error in exc.errors():
        *sections, key = [str(part) for part in error["loc"]] or ["<file>"]
        where = f"[{'.'.join(sections)}].{key}" if sections else key
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


@cache
def load_manifest(folder: Path) -> CapabilityManifest:
    """The manifest of the capability in ``folder``; :class:`ManifestError` when it is broken."""
    path = folder / MANIFEST
    try:
        return CapabilityManifest.model_validate(read_toml(path))
    except ValidationError as exc:
        raise ManifestError(
            f"{path} is not a valid capability manifest:\n{problems(exc)}\n"
            "See docs/capabilities.md#the-manifest for every key."
        ) from None
