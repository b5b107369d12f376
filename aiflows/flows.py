"""The flows: one folder each under ``statemachines/``, its definition and its manifest.

    statemachines/<flow>/definition.asl.json   what the flow does (ASL, as the author writes it)
    statemachines/<flow>/flow.toml             how it runs: type, triggers, budget, alarms, review, events
    statemachines/<flow>/actions.toml          what its runs may do (act's allowlist), if anything
    statemachines/<flow>/events/*.json         sample events that start it, as ``aws events put-events
                                               --entries file://…`` takes them (:func:`read_sample`)

The stack builds every flow it finds here; the definition that deploys is the written
one with the house style woven in (``infra.weave``). A folder that breaks a rule is
refused with a :class:`~aiflows.registry.RegistryError` naming the file, the place and
the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from aiflows.registry import FUNCTIONS, ROOT, CapabilityInfo, RegistryError, by_binding, camel, name_problem
from aiflows_runtime import contracts
from aiflows_runtime.manifest import Section, problems, read_toml
from aiflows_runtime.policies import ActionPolicy
from aiflows_runtime.reviews import Role

STATEMACHINES = ROOT / "statemachines"
FLOW_MANIFEST = "flow.toml"
DEFINITION = "definition.asl.json"
ACTIONS = "actions.toml"


class Trigger(Section):
    """An EventBridge pattern on the flows' bus that starts the flow (its ``live`` alias)."""

    source: tuple[str, ...] = Field(min_length=1)
    detail_type: tuple[str, ...] = Field(min_length=1)
    detail: str = Field(description="the contract of its detail: a model of aiflows_runtime.contracts")
    description: str = ""


class FlowEvent(Section):
    """An event the flow puts on the bus itself, with one of the shared outcome contracts."""

    outcome: Literal["completed", "rejected"]
    description: str = ""


class ReviewSettings(Section):
    """The human review: the Task that asks for it, then a reminder and an escalation, woven in."""

    state: str = Field(default="Review", description="the Task that invokes request_review")
    remind_after_seconds: int = Field(default=43200, gt=0, description="no decision by then: a reminder")
    escalate_after_seconds: int = Field(default=43200, gt=0, description="then an escalation")
    give_up_after_seconds: int = Field(default=172800, gt=0, description="then the run fails as TimedOut")
    role: Role | None = Field(
        default=None,
        description="the role whoever decides must hold (docs/reviews.md#who-may-review-what): "
        "admin, or reviewer (any reviewer of the run's tenant, as when none is named)",
    )


class PricingSettings(Section):
    """The paths through the flow that docs/flows.md prices (infra.pricing)."""

    paths: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"default path": dict[str, str]()},
        description="a name -> the state each Choice goes to on that path (its Default otherwise)",
    )
    express_seconds: float | None = Field(
        default=None, gt=0, description="an Express run's duration, when not its path's Lambda time"
    )
    document_chars: int = Field(
        default=4000, gt=0, description="the size of a run's document, for the tokens of its model calls"
    )
    map_items: int = Field(default=1, ge=1, description="the items each Map state processes in a run")


class FlowManifest(Section):
    description: str = Field(min_length=1)
    type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    started_by: Literal["events", "api"] = Field(
        default="events", description="bus events (its triggers), or clients calling Step Functions"
    )
    triggers: tuple[Trigger, ...] = ()
    budget_usd: float | None = Field(
        default=None, gt=0, le=contracts.MAX_BUDGET_USD, description="what one run may spend on models"
    )
    cost_per_run_alarm_usd: float = Field(gt=0, description="the alarm on the hourly average cost per run")
    correlation_id: str = Field(
        default="$$.Execution.Input.id", description="where a run's correlation id is (a JSONPath)"
    )
    tenant: str = Field(
        default="$$.Execution.Input.detail.tenant", description="where a run's tenant is, if anywhere"
    )
    events: dict[str, FlowEvent] = Field(default_factory=dict, description="by detail-type")
    failures: dict[str, str] = Field(
        default_factory=dict, description="an error's named Fail state, when not the framework's"
    )
    bindings: dict[str, str] = Field(
        default_factory=dict, description="${Name} -> capability, for a name other than ${<Camel>Function}"
    )
    review: ReviewSettings | None = None
    park_for_seconds: int = Field(
        default=259200,
        ge=0,
        le=13 * 86400,  # less than the parked-runs queue keeps a message (14 days)
        description="how long a run parked after a step's retries waits to be resumed (0: it fails at once)",
    )
    pricing: PricingSettings = PricingSettings()

    @model_validator(mode="after")
    def _started_somehow(self) -> FlowManifest:
        if self.started_by == "events" and not self.triggers:
            raise ValueError(
                "a flow started by events needs a trigger: add [[triggers]] with source, detail_type "
                'and detail, or set started_by = "api" for a flow that clients start'
            )
        return self


@dataclass(frozen=True)
class FlowInfo:
    """One flow folder, read and checked."""

    name: str
    folder: Path
    manifest: FlowManifest

    @property
    def definition_path(self) -> Path:
        return self.folder / DEFINITION

    @property
    def construct_id(self) -> str:
        return camel(self.name)

    @cached_property
    def written(self) -> dict[str, Any]:
        """The definition as its author wrote it."""
        try:
            loaded = json.loads(self.definition_path.read_text())
        except FileNotFoundError:
            raise RegistryError(f"{self.folder}: no {DEFINITION}; write the flow's ASL there") from None
        except json.JSONDecodeError as exc:
            raise RegistryError(
                f"{self.definition_path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("States"), dict):
            raise RegistryError(f"{self.definition_path}: an ASL definition needs StartAt and States")
        return loaded

    def capability_bindings(self, functions: Path = FUNCTIONS) -> dict[str, CapabilityInfo]:
        """The capabilities the definition may name, by ``${Name}``: the conventional names and its own."""
        known = dict(by_binding(functions))
        by_name = {info.name: info for info in known.values()}
        for name, capability in self.manifest.bindings.items():
            if capability not in by_name:
                raise RegistryError(
                    f"{self.folder / FLOW_MANIFEST}: [bindings] {name} = {capability!r}, but there is no "
                    f"functions/{capability}/capability.toml; known: {sorted(by_name)}"
                )
            known[name] = by_name[capability]
        return known

    def woven(self, functions: Path = FUNCTIONS) -> dict[str, Any]:
        """The definition that deploys: the written one, with the house style woven in."""
        from infra.weave import weave

        return weave(self, self.capability_bindings(functions))

    def trigger_contracts(self) -> dict[str, type[BaseModel]]:
        return {
            detail_type: _detail_contract(self, t)
            for t in self.manifest.triggers
            for detail_type in t.detail_type
        }

    def action_policy(self) -> dict[str, Any] | None:
        """What the flow's runs may do (its ``actions.toml``), checked; None when it has none."""
        path = self.folder / ACTIONS
        if not path.is_file():
            return None
        try:
            return ActionPolicy.model_validate(read_toml(path)).model_dump(mode="json")
        except ValidationError as exc:
            raise RegistryError(f"{path} is not a valid action policy:\n{problems(exc)}") from None

    def sample_events(self) -> list[Path]:
        return sorted((self.folder / "events").glob("*.json"))


SAMPLE_BUS = "aiflows"  # the bus a sample event names: the default stage's (infra.stage.PREFIX)


def read_sample(path: Path) -> dict[str, Any]:
    """A sample event file's one PutEvents entry, with its ``Detail`` decoded into an object.

    The file is what ``aws events put-events --entries file://<path>`` takes: a list of one entry
    whose ``Detail`` is a JSON string, on the bus ``EventBusName`` names.
    """
    form = (
        f"a list of one PutEvents entry, as `aws events put-events --entries file://{path}` takes it: "
        f'[{{"EventBusName": "{SAMPLE_BUS}", "Source": "…", "DetailType": "…", "Detail": "{{\\"…\\": …}}"}}]'
    )
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RegistryError(f"{path} is not JSON ({exc}): a sample event is {form}") from None
    if not (isinstance(entries, list) and len(entries) == 1 and isinstance(entries[0], dict)):
        raise RegistryError(f"{path} holds no list of one entry: a sample event is {form}")
    entry = dict(entries[0])
    detail = entry.get("Detail", "{}")
    try:
        entry["Detail"] = json.loads(detail) if isinstance(detail, str) else None
    except ValueError:
        entry["Detail"] = None
    if not isinstance(entry["Detail"], dict):
        raise RegistryError(f"{path}: Detail is an object written as a JSON string in {form}")
    return entry


def sample_text(entry: dict[str, Any]) -> str:
    """The file form of an entry (``Detail`` an object or a string): what :func:`read_sample` reads."""
    wire = {"EventBusName": SAMPLE_BUS, **entry}
    if not isinstance(wire.get("Detail"), str):
        wire["Detail"] = json.dumps(wire.get("Detail", {}))
    return json.dumps([wire], indent=2, ensure_ascii=False) + "\n"


def write_sample(entry: dict[str, Any], path: Path) -> Path:
    path.write_text(sample_text(entry), encoding="utf-8")
    return path


def _detail_contract(flow: FlowInfo, trigger: Trigger) -> type[BaseModel]:
    model = getattr(contracts, trigger.detail, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise RegistryError(
            f"{flow.folder / FLOW_MANIFEST}: [[triggers]] detail = {trigger.detail!r} is no model of "
            "aiflows_runtime.contracts; name the contract the event's detail satisfies (e.g. Document)"
        )
    return model


def read_flow(folder: Path) -> FlowInfo:
    path = folder / FLOW_MANIFEST
    problem = name_problem(folder.name)
    if problem:
        raise RegistryError(f"{path}: the folder name {problem}; rename the folder")
    try:
        manifest = FlowManifest.model_validate(read_toml(path))
    except ValidationError as exc:
        raise RegistryError(
            f"{path} is not a valid flow manifest:\n{problems(exc)}\n"
            "See docs/flows.md#the-manifest for every key."
        ) from None
    flow = FlowInfo(folder.name, folder, manifest)
    flow.trigger_contracts()
    flow.action_policy()
    return flow


def action_policies(root: Path = STATEMACHINES) -> dict[str, dict[str, Any]]:
    """Every flow's action policy, by flow: what the stack gives the functions that act."""
    found = {name: flow.action_policy() for name, flow in flows(root).items()}
    return {name: policy for name, policy in found.items() if policy is not None}


@cache
def flows(root: Path = STATEMACHINES) -> dict[str, FlowInfo]:
    """Every flow folder (one with a ``flow.toml``), by name; two flows may not claim one event."""
    found = {path.parent.name: read_flow(path.parent) for path in sorted(root.glob(f"*/{FLOW_MANIFEST}"))}
    claimed: dict[tuple[str, str], str] = {}
    for flow in found.values():
        for trigger in flow.manifest.triggers:
            for pair in ((s, d) for s in trigger.source for d in trigger.detail_type):
                other = claimed.setdefault(pair, flow.name)
                if other != flow.name:
                    raise RegistryError(
                        f"{flow.folder / FLOW_MANIFEST}: the trigger source {pair[0]!r}, detail_type "
                        f"{pair[1]!r} already starts the flow {other!r} "
                        f"({root / other / FLOW_MANIFEST}); an event starts one flow: give one of them "
                        "another detail_type"
                    )
    return found


def bus_events(root: Path = STATEMACHINES) -> dict[str, tuple[str, type[BaseModel], str]]:
    """Every event on the bus, by detail-type: (source, contract of its detail, whose it is).

    The triggers of every flow (put by producers), what the flows put themselves, and
    the shared events (``flow.failed``, ``review.requested``), the framework's: docs/events.md
    documents each, or the README.md of the flow it is of.
    """
    found: dict[str, tuple[str, type[BaseModel], str]] = {
        detail_type: (source, contract, "the framework")
        for detail_type, (source, contract) in contracts.SHARED_EVENTS.items()
    }
    for flow in flows(root).values():
        for trigger in flow.manifest.triggers:
            model = _detail_contract(flow, trigger)
            for detail_type in trigger.detail_type:
                found[detail_type] = (trigger.source[0], model, flow.name)
        for detail_type, event in flow.manifest.events.items():
            found[detail_type] = (
                contracts.FLOWS_SOURCE,
                contracts.OUTCOME_CONTRACTS[event.outcome],
                flow.name,
            )
    return found
