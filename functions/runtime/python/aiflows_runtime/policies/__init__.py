"""Versioned policy files, read into pydantic models: a broken file fails at load, loudly."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiflows_runtime.manifest import ManifestError, problems

HERE = Path(__file__).parent


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySettings(_Policy):
    connect_timeout_seconds: float = Field(gt=0)
    read_timeout_seconds: float = Field(gt=0)
    attempts_per_model: int = Field(ge=1)
    backoff_base_seconds: float = Field(ge=0)
    backoff_cap_seconds: float = Field(ge=0)
    cache_ttl_seconds: int = Field(gt=0)
    deadline_margin_seconds: float = Field(ge=0)


class BreakerSettings(_Policy):
    failure_threshold: int = Field(ge=1)
    window_seconds: float = Field(gt=0)
    open_seconds: float = Field(gt=0)
    probe_lease_seconds: float = Field(gt=0)


# The geographies of Bedrock's cross-region (system-defined) inference profiles: a profile's id is
# "<geography>.<model id>". A global profile ("global.") is not among them: it routes to every
# commercial region, and its grant takes the foundation model's ARN with no region, which the stack
# does not write; name its model's geographic profiles instead.
GEOGRAPHIES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


class InferenceProfile(_Policy):
    """A cross-region inference profile of one model: called from ``sources``, run in ``destinations``."""

    sources: tuple[str, ...] = Field(min_length=1, description="the regions that may call the profile")
    destinations: tuple[str, ...] = Field(
        min_length=1, description="the regions a call may run in: its grant names the model in each"
    )

    @model_validator(mode="after")
    def _regions(self) -> InferenceProfile:
        for region in (*self.sources, *self.destinations):
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not a region name (like us-east-1)")
        return self


class ModelPrice(_Policy):
    """A model the routes may name: its price, and the id a call needs in each deploy region."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)
    in_region: tuple[str, ...] = Field(
        default=(), description="the regions that call the model on demand by its own id"
    )
    profiles: dict[str, InferenceProfile] = Field(
        default_factory=dict, description="its cross-region inference profiles, by geography"
    )

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k

    @model_validator(mode="after")
    def _one_way_from_each_region(self) -> ModelPrice:
        for region in self.in_region:
            if not _REGION.match(region):
                raise ValueError(f"in_region: {region!r} is not a region name (like us-east-1)")
        unknown = sorted(set(self.profiles) - set(GEOGRAPHIES))
        if unknown:
            raise ValueError(
                f"profiles.{unknown[0]}: not a geography of cross-region inference profiles; use one of "
                f"{', '.join(GEOGRAPHIES)} (a global profile is not supported: name the geographic ones)"
            )
        seen: dict[str, str] = {}
        for geography, profile in sorted(self.profiles.items()):
            for region in profile.sources:
                if region in seen:
                    raise ValueError(
                        f"profiles.{geography}.sources: {region} is already a source of "
                        f"profiles.{seen[region]}; a region calls a model through one profile: remove it "
                        "from one of them"
                    )
                seen[region] = geography
        if not self.in_region and not self.profiles:
            raise ValueError(
                "callable from no region: list the regions that call it by its own id in in_region, "
                'or its inference profiles in [models."<id>".profiles.<geography>]'
            )
        return self


@dataclass(frozen=True)
class Invocation:
    """How a call to one routed model is made from one region: the id Converse takes, where it runs."""

    model: str  # the id the route names and the policy prices
    region: str  # the region the call is made from: the function's own
    model_id: str  # what Converse is called with: the model's own id, or its profile's
    geography: str | None  # the profile's geography ("us"), None for a call by the model's own id
    destinations: tuple[str, ...]  # the regions the call may run in (the region itself, in region)

    @property
    def through_profile(self) -> bool:
        return self.geography is not None


class RoutingPolicy(_Policy):
    version: str
    gateway: GatewaySettings
    breaker: BreakerSettings
    models: dict[str, ModelPrice]

    @model_validator(mode="after")
    def _models_are_not_profiles(self) -> RoutingPolicy:
        for model in self.models:
            geography, _, rest = model.partition(".")
            if geography in GEOGRAPHIES and rest in self.models:
                raise ValueError(
                    f"models.{model!r} is the {geography} inference profile of {rest!r}: price the model "
                    "once, under its own id, and list the profile in "
                    f'[models."{rest}".profiles.{geography}]'
                )
        return self

    def invocation(self, model: str, region: str) -> Invocation | None:
        """The id a call to ``model`` takes from ``region``; None where the policy gives it none.

        A region of the model's ``in_region`` calls it by its own id; any other region calls the
        inference profile whose ``sources`` hold the region, ``<geography>.<model id>``.
        """
        entry = self.models[model]
        if region in entry.in_region:
            return Invocation(model, region, model, None, (region,))
        for geography, profile in sorted(entry.profiles.items()):
            if region in profile.sources:
                return Invocation(model, region, f"{geography}.{model}", geography, profile.destinations)
        return None

    def model_of(self, model_id: str) -> str | None:
        """The priced model an id calls: the id itself, or the model of a profile id (``us.<model>``)."""
        if model_id in self.models:
            return model_id
        geography, _, model = model_id.partition(".")
        entry = self.models.get(model)
        return model if entry is not None and geography in entry.profiles else None

    def profile_of(self, model_id: str) -> str | None:
        """The model whose inference profile ``model_id`` is (any geography); None for any other id."""
        geography, _, model = model_id.partition(".")
        return model if geography in GEOGRAPHIES and model in self.models else None


class PolicyError(ManifestError):
    """A policy file that cannot be used as written: the message names the file, the place and the fix."""


@cache
def routing_policy(name: str = "routing") -> RoutingPolicy:
    path = HERE / f"{name}.toml"
    try:
        return RoutingPolicy.model_validate(tomllib.loads(path.read_text()))
    except ValidationError as exc:
        raise PolicyError(
            f"{path} is not a valid routing policy:\n{problems(exc)}\n"
            "See docs/capabilities.md#models-per-region for its keys."
        ) from None


ACTIONS_SOURCE = "aiflows.actions"


class PutEventPolicy(_Policy):
    detail_types: tuple[str, ...] = ()
    source: str = ACTIONS_SOURCE


class WriteRecordPolicy(_Policy):
    record_types: tuple[str, ...] = ()


ACTION_KINDS = ("put_event", "write_record")


class FourEyesPolicy(_Policy):
    """Which proposed actions need two approvals, from two different reviewers (``[four_eyes]``)."""

    actions: tuple[str, ...] = Field(
        default=(), description="an action (write_record) or an action and its target (write_record:contract)"
    )
    amount_field: str = Field(default="amount", min_length=1)
    amount_over: float | None = Field(default=None, ge=0, description="a payload amount above this")
    risk_at_least: Literal["low", "medium", "high"] | None = None

    @field_validator("actions")
    @classmethod
    def _known(cls, actions: tuple[str, ...]) -> tuple[str, ...]:
        for named in actions:
            if named.partition(":")[0] not in ACTION_KINDS:
                raise ValueError(
                    f"{named!r} names no action: write {' or '.join(ACTION_KINDS)}, "
                    "alone or as <action>:<target>"
                )
        return actions


class ActionPolicy(_Policy):
    """What one flow's runs may do, its ``statemachines/<flow>/actions.toml``: nothing else."""

    version: str
    put_event: PutEventPolicy = PutEventPolicy()
    write_record: WriteRecordPolicy = WriteRecordPolicy()
    four_eyes: FourEyesPolicy = FourEyesPolicy()


NO_ACTIONS = ActionPolicy(version="none")


@cache
def action_policy(flow: str) -> ActionPolicy:
    """The flow's action policy, as the stack gives it to the functions that act or check actions.

    A flow without an ``actions.toml`` may do nothing: every action it asks for is refused.
    """
    from aiflows_runtime.settings import settings

    policies = json.loads(settings().action_policies)
    return ActionPolicy.model_validate(policies[flow]) if flow in policies else NO_ACTIONS


def _compiles(rule: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"rule {rule}: the pattern does not compile: {exc}") from None


Outcome = Literal["block", "review", "redact", "pass"]
OUTCOME_ORDER: dict[str, int] = {"pass": 0, "redact": 1, "review": 2, "block": 3}


class InputChecks(_Policy):
    max_text_bytes: int = Field(gt=0)
    content_types: tuple[str, ...]
    max_replacement_chars: int = Field(ge=0)
    min_printable_ratio: float = Field(ge=0, le=1)


class GuardOutcomes(_Policy):
    invalid_input: Outcome
    prompt_injection: Outcome
    pii: Outcome
    bedrock_guardrail: Outcome
    low_confidence: Outcome
    unsupported_fields: Outcome
    injection_in_output: Outcome
    action_not_allowed: Outcome


class GuardPolicy(_Policy):
    version: str
    auto_act_confidence: float = Field(ge=0, le=1)
    inline_text_limit_bytes: int = Field(gt=0)
    long_running_text_bytes: int = Field(gt=0)
    input: InputChecks
    outcomes: GuardOutcomes
    pii: dict[str, Literal["low", "medium", "high"]]


class ContentRule(_Policy):
    id: str
    pattern: str
    outcome: Outcome = "pass"
    reason: str


class ContentPolicy(_Policy):
    version: str
    deny: tuple[ContentRule, ...]
    allow: tuple[ContentRule, ...] = ()

    @model_validator(mode="after")
    def _patterns_compile(self) -> ContentPolicy:
        for rule in (*self.deny, *self.allow):
            _compiles(rule.id, rule.pattern)
        return self


@cache
def content_policy(name: str = "content") -> ContentPolicy:
    return ContentPolicy.model_validate(tomllib.loads((HERE / f"{name}.toml").read_text()))


@cache
def guard_policy(name: str = "guard") -> GuardPolicy:
    return GuardPolicy.model_validate(tomllib.loads((HERE / f"{name}.toml").read_text()))


class InjectionRule(_Policy):
    id: str
    weight: float = Field(gt=0)
    pattern: str
    # "text": the text with its line breaks joined, so an attack split over lines still reads
    # as one sentence; "lines": line by line, for the rules about what starts a line; "both"
    reads: Literal["text", "lines", "both"] = "text"


class InjectionHeuristics(_Policy):
    disguised: float = Field(ge=0)
    talks_to_model: float = Field(ge=0)
    imperative_risky: float = Field(ge=0)


class InjectionPolicy(_Policy):
    version: str
    threshold: float = Field(gt=0)
    rules: tuple[InjectionRule, ...]
    heuristics: InjectionHeuristics

    @model_validator(mode="after")
    def _patterns_compile(self) -> InjectionPolicy:
        for rule in self.rules:
            _compiles(rule.id, rule.pattern)
        return self


@cache
def injection_policy(name: str = "injection") -> InjectionPolicy:
    return InjectionPolicy.model_validate(tomllib.loads((HERE / f"{name}.toml").read_text()))
