"""Versioned policy files, read into pydantic models: a broken file fails at load, loudly."""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class ModelPrice(_Policy):
    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k


class RoutingPolicy(_Policy):
    version: str
    gateway: GatewaySettings
    breaker: BreakerSettings
    models: dict[str, ModelPrice]


@cache
def routing_policy(name: str = "routing") -> RoutingPolicy:
    return RoutingPolicy.model_validate(tomllib.loads((HERE / f"{name}.toml").read_text()))


ACTIONS_SOURCE = "aiflows.actions"


class PutEventPolicy(_Policy):
    detail_types: tuple[str, ...] = ()
    source: str = ACTIONS_SOURCE


class WriteRecordPolicy(_Policy):
    record_types: tuple[str, ...] = ()


class ActionPolicy(_Policy):
    """What one flow's runs may do, its ``statemachines/<flow>/actions.toml``: nothing else."""

    version: str
    put_event: PutEventPolicy = PutEventPolicy()
    write_record: WriteRecordPolicy = WriteRecordPolicy()


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
