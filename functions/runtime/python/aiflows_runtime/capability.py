"""What a capability handler needs besides its logic: its manifest, the gateway and idempotency.

A handler names its capability once, ``CAPABILITY = Capability.at(__file__)``: the
folder it lives in, and the manifest there (its model route and prompts). The
gateway and idempotency are built once per execution environment (on first use,
so a handler's import stays light) from the function's settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiflows_runtime.clients import client
from aiflows_runtime.contracts import Contract, ModelUse, StepInput, parse_answer
from aiflows_runtime.manifest import CapabilityManifest, ModelRoute, load_manifest
from aiflows_runtime.observability import record_breaker_open, record_model_call
from aiflows_runtime.prompts import PromptTemplate, load
from aiflows_runtime.settings import settings
from aiflows_runtime.state import keys

if TYPE_CHECKING:
    # The gateway and idempotency load where they are built: a handler that calls no model
    # imports no gateway (docs/capabilities.md#cold-start).
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    from aiflows_runtime.gateway import ModelAnswer, ModelGateway, RunContext
    from aiflows_runtime.state.idempotency import StepRecords

F = TypeVar("F", bound=Callable[..., Any])
A = TypeVar("A", bound=Contract)


@dataclass(frozen=True)
class Capability:
    """One capability: its folder under ``functions/`` and the manifest there."""

    name: str
    folder: Path
    manifest: CapabilityManifest

    @classmethod
    def at(cls, module_file: str) -> Capability:
        """The capability whose folder holds ``module_file`` (a handler passes ``__file__``)."""
        folder = Path(module_file).resolve().parent
        return cls(folder.name, folder, load_manifest(folder))

    @property
    def route(self) -> ModelRoute:
        if self.manifest.model is None:
            raise ValueError(f"{self.name} calls no model: its capability.toml has no [model] route")
        return self.manifest.model

    def prompt(self) -> PromptTemplate:
        """The prompt template its route names (``prompts/<version>.toml`` in its folder)."""
        return load(self.folder, self.name, self.route.prompt)


@cache
def gateway() -> ModelGateway:
    from aiflows_runtime.gateway import ModelGateway
    from aiflows_runtime.policies import routing_policy
    from aiflows_runtime.state import CircuitBreaker, DynamoDBBreakerStore, DynamoDBCache, DynamoDBLedger

    policy = routing_policy()
    table = settings().state_table_name
    dynamodb = client("dynamodb")
    return ModelGateway(
        policy=policy,
        bedrock=ModelGateway.bedrock_client(policy),
        breaker=CircuitBreaker(DynamoDBBreakerStore(table, client=dynamodb), policy.breaker),
        cache=DynamoDBCache(table, policy.gateway.cache_ttl_seconds, client=dynamodb),
        ledger=DynamoDBLedger(table, client=dynamodb),
        on_call=record_model_call,
        on_breaker_open=record_breaker_open,
        region=settings().aws_region,
    )


def run_context(request: StepInput, tenant: str) -> RunContext:
    from aiflows_runtime.gateway import RunContext

    return RunContext(
        correlation_id=request.correlation_id, flow=request.flow, tenant=tenant, budget_usd=request.budget_usd
    )


@cache
def _persistence(defer_claim: bool) -> StepRecords:
    """Powertools' DynamoDB layer, whose writes join the step's own
    (:class:`~aiflows_runtime.state.idempotency.StepRecords`)."""
    from aiflows_runtime.state.idempotency import StepRecords

    return StepRecords(
        table_name=settings().state_table_name, key_attr="pk", sort_key_attr="sk", defer_claim=defer_claim
    )


def idempotent_step(
    capability: str, key: str | None = None, *, defer_claim: bool = False
) -> Callable[[F], F]:
    """Make a step's work idempotent, its record kept in the state table.

    The key is the whole input, or the part a JMESPath expression picks (``key``).
    A repeated delivery of the same input (a Step Functions retry after a timeout,
    a duplicate event) returns the stored result: no second side effect and no
    second model charge. The decorated function takes its input as ``request=``.

    ``defer_claim``: the record's claim waits for the step's first write and goes in its
    request (the hold of its model call, or the completion), one request fewer. Only for a
    step whose effects are all the gateway's and the state adapters': any other effect (an
    event, a message, a call to another system) could be made twice before a claim is written
    (docs/capabilities.md#idempotency).
    """

    def wrap(fn: F) -> F:
        @cache
        def config() -> IdempotencyConfig:
            from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

            return IdempotencyConfig(
                event_key_jmespath=key or "",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=settings().idempotency_ttl_seconds,
            )

        @cache
        def guarded() -> Callable[..., Any]:
            from aiflows_runtime.state.idempotency import idempotent_step_function

            return idempotent_step_function(
                fn,
                records=_persistence(defer_claim),
                config=config(),
                key_prefix=keys.idempotency_prefix(capability),
            )

        _step_configs.append(config)

        @functools.wraps(fn)
        def step(*args: Any, **kwargs: Any) -> Any:
            return guarded()(*args, **kwargs)

        return cast(F, step)

    return wrap


# each idempotent step's config, built at the first invocation (which registers its context)
_step_configs: list[Callable[[], IdempotencyConfig]] = []


def register_context(context: Any) -> None:
    """Let idempotency see the remaining time of this invocation."""
    for config in _step_configs:
        config().register_lambda_context(context)


def ask_model(
    capability: Capability,
    request: StepInput,
    tenant: str,
    variables: dict[str, Any],
    answer_model: type[A],
) -> ModelAnswer[A]:
    """Render the capability's prompt (the version its route names) and ask its models."""
    prompt = capability.prompt().render(**variables)
    return gateway().ask(
        capability.name,
        capability.route,
        prompt,
        run_context(request, tenant),
        lambda text: parse_answer(text, answer_model),
    )


def model_use(answer: ModelAnswer[Any]) -> ModelUse:
    return ModelUse(
        model_id=answer.model_id,
        prompt_id=answer.prompt_id,
        cost_usd=answer.cost_usd,
        cache_hit=answer.cache_hit,
    )
