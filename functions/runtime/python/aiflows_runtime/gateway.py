"""The model gateway: every model call of every capability goes through here.

It calls Amazon Bedrock's Converse API and adds what a dependable flow needs:

- routing by the capability's manifest (its ``[model]`` route): the primary
  model, then its fallbacks, each priced in ``policies/routing.toml``, which
  also names the id a call takes from the function's region: the model's own,
  or a cross-region inference profile's (``us.<model id>``);
- connect and read timeouts, and retries with exponential backoff and full
  jitter on throttling and timeouts (botocore's own retries are off, so the
  policy is the only one that counts);
- deadlines: a call starts only when it fits in the invocation's time left, and
  a retry only when every later model keeps time for one call
  (:mod:`aiflows_runtime.deadlines`);
- a circuit breaker per model, shared through DynamoDB: an open breaker sends
  the call to the next model; a call that timed out counts as a failure at once;
- a response cache with a TTL for the routes a manifest marks cacheable;
- the cost of every call: tokens, latency, model, prompt version and USD, to the
  run's ledger and to metrics; and a run budget: each call's worst case is set
  aside in the ledger before it is made, in one conditional update, so branches
  of a run that call at once cannot pass the budget together.

Few round trips to the state table: on a cacheable route the breaker and the cached
answer are read in one request, and the answer is stored in the transaction that
writes the call's ledger line; a success writes the breaker only when it changes it.
An uncached call with a budget costs the gateway 3 DynamoDB requests (read, hold, settle),
a cached one 2 (read, the hit's line). Inside an idempotent step the settling transaction
waits and joins the completion of the step's idempotency record, and a step that defers its
claim sends it with the hold (:mod:`aiflows_runtime.state.step`), the model never called before
it is written: a step's requests are then 3 and 2, idempotency's included, of which the
gateway's own 2 and 1 (``bench/requests.py`` counts them per capability).

A malformed answer (one the capability's parser rejects) counts as a failure of
that model and the call moves on to the next; its tokens are still paid for and
recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiflows_runtime import invocation
from aiflows_runtime.deadlines import call_seconds
from aiflows_runtime.errors import FlowError, MalformedAnswer, TransientError, error_code
from aiflows_runtime.manifest import ModelRoute
from aiflows_runtime.policies import RoutingPolicy
from aiflows_runtime.prompts import RenderedPrompt
from aiflows_runtime.state import (
    AnswerCache,
    BreakerState,
    CachedAnswer,
    CircuitBreaker,
    Hold,
    Ledger,
    LedgerEntry,
    OverBudget,
)
from aiflows_runtime.state.step import claim_now

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "InternalServerException",
        "ModelTimeoutException",
        "ModelErrorException",
    }
)


class ModelUnavailable(TransientError):
    """No model of the route could answer: all failed, or their breakers are open."""


class BudgetExceeded(FlowError):
    """The run's spend, plus the most this call could cost, would pass the flow's budget."""


class ModelRequestRejected(FlowError):
    """Bedrock refused the request itself (ValidationException): retrying cannot help."""


@dataclass(frozen=True)
class RunContext:
    correlation_id: str
    flow: str
    tenant: str
    budget_usd: float | None = None


@dataclass(frozen=True)
class ModelAnswer(Generic[T]):
    value: T
    model_id: str
    prompt_id: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    cache_hit: bool
    stop_reason: str


@dataclass(frozen=True)
class Call:
    """One model of the route, about to be asked: what is sent, and what the first read found."""

    route: ModelRoute
    model: str
    request: dict[str, Any]
    key: str | None  # its answer's cache key, when the route is cacheable
    cached: CachedAnswer | None
    admitted: BreakerState  # the breaker's state the call was admitted on


@dataclass
class Attempt:
    model_id: str
    outcome: str  # ok | repaired | cached | throttled | timeout | error | malformed | open | deadline


def estimate_tokens(text: str) -> int:
    """About four characters a token: enough to bound a call's cost before making it."""
    return max(1, math.ceil(len(text) / 4))


def _is_timeout(exc: Exception) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError

    return isinstance(exc, BotoConnectionError) or "timeout" in type(exc).__name__.lower()


def _request_text(request: dict[str, Any]) -> str:
    parts = [p.get("text", "") for p in request.get("system", [])]
    parts += [p.get("text", "") for m in request["messages"] for p in m["content"]]
    return "".join(parts)


def answer_key(model: str, prompt_id: str, request: dict[str, Any]) -> str:
    """The cache key of an answer: the model, the prompt version and what was sent."""
    canonical = json.dumps([model, prompt_id, request], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


REPAIR = (
    "Your answer above does not satisfy the required output: {error}. Answer again with only "
    "the JSON object the instructions ask for, and nothing else."
)


def repair_request(request: dict[str, Any], answer: str, error: str) -> dict[str, Any]:
    """The same conversation, with the model's malformed answer and the validation error added."""
    return {
        **request,
        "messages": [
            *request["messages"],
            {"role": "assistant", "content": [{"text": answer.strip() or "(no answer)"}]},
            {"role": "user", "content": [{"text": REPAIR.format(error=error[:1000])}]},
        ],
    }


class ModelGateway:
    def __init__(
        self,
        policy: RoutingPolicy,
        bedrock: Any,
        breaker: CircuitBreaker,
        cache: AnswerCache,
        ledger: Ledger,
        on_call: Callable[[RunContext, LedgerEntry], None] = lambda run, entry: None,
        on_breaker_open: Callable[[str, str], None] = lambda model, why: None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
        remaining: Callable[[], float] = invocation.remaining_seconds,
        region: str | None = None,
    ) -> None:
        """``region`` is the function's (``AWS_REGION``): each model is called by the id the policy
        gives it there. Without one, each model is called by its own id (a test's fake Bedrock)."""
        self.policy = policy
        self.region = region
        self._bedrock = bedrock
        self._breaker = breaker
        self._cache = cache
        self._ledger = ledger
        self._on_call = on_call
        self._on_breaker_open = on_breaker_open
        self._sleep = sleep
        self._jitter = jitter
        self._remaining = remaining
        self.attempts: list[Attempt] = []

    @staticmethod
    def bedrock_client(policy: RoutingPolicy) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "bedrock-runtime",
            config=Config(
                connect_timeout=policy.gateway.connect_timeout_seconds,
                read_timeout=policy.gateway.read_timeout_seconds,
                retries={"total_max_attempts": 1},
            ),
        )

    def ask(
        self,
        capability: str,
        route: ModelRoute,
        prompt: RenderedPrompt,
        run: RunContext,
        parse: Callable[[str], T],
    ) -> ModelAnswer[T]:
        """Ask the route's models in order (primary, then fallbacks); the first valid answer wins."""
        if prompt.prompt_id != f"{capability}/{route.prompt}":
            raise ValueError(f"{capability} is routed with prompt {route.prompt}, not {prompt.prompt_id}")
        unpriced = [model for model in route.models if model not in self.policy.models]
        if unpriced:
            raise ValueError(f"{capability} routes to models routing.toml does not price: {unpriced}")
        if self.region is not None:
            uncallable = [m for m in route.models if self.policy.invocation(m, self.region) is None]
            if uncallable:
                raise ValueError(
                    f"{capability} routes to models routing.toml gives no id in {self.region}: {uncallable}"
                )
        self.attempts = []
        for position, model in enumerate(route.models):
            request = self._request(capability, route, model, prompt, run)
            cache_key, cached = None, None
            if route.cacheable:
                # the cached answer and the model's breaker, in one read
                cache_key = answer_key(
                    model,
                    prompt.prompt_id,
                    {k: request[k] for k in ("system", "messages", "inferenceConfig")},
                )
                cached, state = self._cache.get_with_breaker(cache_key, model, self._breaker.store)
                admitted = self._breaker.admit(model, state)
            else:
                admitted = self._breaker.admit(model)
            if admitted is None:
                self.attempts.append(Attempt(model, "open"))
                self._on_breaker_open(model, "a call was refused")
                continue
            later = len(route.models) - position - 1
            answer = self._ask_model(
                capability,
                Call(route, model, request, cache_key, cached, admitted),
                prompt,
                run,
                parse,
                later,
            )
            if answer is not None:
                return answer
        tried = ", ".join(f"{a.model_id}: {a.outcome}" for a in self.attempts)
        raise ModelUnavailable(f"{capability}: no model could answer ({tried})")

    def model_id(self, model: str) -> str:
        """The id Converse takes for ``model`` in the gateway's region (its profile's, where it needs one)."""
        if self.region is None:
            return model
        called = self.policy.invocation(model, self.region)
        if called is None:
            raise ValueError(f"routing.toml gives {model} no id in {self.region}")
        return called.model_id

    def _request(
        self, capability: str, route: ModelRoute, model: str, prompt: RenderedPrompt, run: RunContext
    ) -> dict[str, Any]:
        return {
            "modelId": self.model_id(model),
            "system": [{"text": prompt.system}],
            "messages": [{"role": "user", "content": [{"text": prompt.text}]}],
            "inferenceConfig": {"maxTokens": route.max_tokens, "temperature": route.temperature},
            "requestMetadata": {
                "capability": capability,
                "prompt": prompt.prompt_id,
                "correlation_id": run.correlation_id[:256],
            },
        }

    def _ask_model(
        self,
        capability: str,
        call: Call,
        prompt: RenderedPrompt,
        run: RunContext,
        parse: Callable[[str], T],
        later_models: int,
    ) -> ModelAnswer[T] | None:
        """This model's answer, or None when it failed (and the route moves on)."""
        route, model, request, cache_key, cached = call.route, call.model, call.request, call.key, call.cached
        seen: BreakerState | None = call.admitted  # the breaker's state as this call knows it
        if cache_key is not None:
            if cached is not None:
                try:
                    value = parse(cached.text)
                except MalformedAnswer:
                    value = None
                if value is not None:
                    self.attempts.append(Attempt(model, "cached"))
                    self._account(run, capability, model, prompt, 0, 0, 0.0, True, "ok")
                    return ModelAnswer(
                        value, model, prompt.prompt_id, 0, 0, 0.0, 0.0, True, cached.stop_reason
                    )

        price = self.policy.models[model]
        gateway = self.policy.gateway
        one_call = call_seconds(gateway)
        request_tokens = estimate_tokens(prompt.system + prompt.text)
        attempt, repaired, calls, timed_out = 0, False, 0, False
        while attempt < gateway.attempts_per_model:
            pause = 0.0
            if attempt:
                ceiling = min(gateway.backoff_cap_seconds, gateway.backoff_base_seconds * 2**attempt)
                pause = self._jitter(0.0, ceiling)
            # the first call of a model needs its own time; any further one, also a call of each later model
            needed = pause + one_call + (one_call * later_models if calls else 0.0)
            if self._remaining() - gateway.deadline_margin_seconds < needed:
                self.attempts.append(Attempt(model, "deadline"))
                break
            if attempt:
                self._sleep(pause)
            attempt += 1
            calls += 1
            hold = self._hold(run, capability, route, model, request_tokens)
            claim_now()  # a deferred claim the hold did not carry (nothing held) goes alone, first
            started = time.perf_counter()
            try:
                response = self._bedrock.converse(**request)
            except Exception as exc:
                self._ledger.release(hold)
                code = error_code(exc)
                if code == "ValidationException" or code == "AccessDeniedException":
                    raise ModelRequestRejected(f"{model} rejected the request: {exc}") from exc
                if code in RETRYABLE_CODES:
                    self.attempts.append(Attempt(model, "throttled" if "Throttl" in code else "error"))
                    continue
                if _is_timeout(exc):
                    # a hang is the costliest failure: the breaker hears of it before anything else can fail
                    self.attempts.append(Attempt(model, "timeout"))
                    self._failed(model, f"timed out after {one_call:g} s")
                    timed_out, seen = True, None
                    continue
                raise
            latency_ms = float(
                response.get("metrics", {}).get("latencyMs") or (time.perf_counter() - started) * 1000
            )
            usage = response.get("usage", {})
            input_tokens, output_tokens = int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))
            cost = price.cost(input_tokens, output_tokens)
            text = "".join(part.get("text", "") for part in response["output"]["message"]["content"])
            stop_reason = response.get("stopReason", "")
            try:
                value = parse(text)
            except MalformedAnswer as malformed:
                self.attempts.append(Attempt(model, "malformed"))
                self._account(
                    run,
                    capability,
                    model,
                    prompt,
                    input_tokens,
                    output_tokens,
                    latency_ms,
                    False,
                    "malformed",
                    cost,
                    hold,
                )
                if not repaired:
                    # one repair: the same model, shown its answer and what is wrong with it
                    request, repaired, attempt = (
                        repair_request(request, text, str(malformed)),
                        True,
                        attempt - 1,
                    )
                    # the repair resends the prompt with more: its worst case is sized by the first
                    # call's real token counts where the estimate would say less
                    request_tokens = max(
                        estimate_tokens(_request_text(request)),
                        input_tokens + output_tokens + estimate_tokens(REPAIR) + 250,
                    )
                    continue
                self._failed(model, "malformed answer")
                return None
            outcome = "repaired" if repaired else "ok"
            self.attempts.append(Attempt(model, outcome))
            self._breaker.record_success(model, seen)
            self._account(
                run,
                capability,
                model,
                prompt,
                input_tokens,
                output_tokens,
                latency_ms,
                False,
                outcome,
                cost,
                hold,
                # a cacheable route's answer is stored with the call's ledger line, in one transaction
                None if cache_key is None else (cache_key, CachedAnswer(text=text, stop_reason=stop_reason)),
            )
            return ModelAnswer(
                value,
                model,
                prompt.prompt_id,
                input_tokens,
                output_tokens,
                cost,
                latency_ms,
                False,
                stop_reason,
            )
        outcomes = [a.outcome for a in self.attempts if a.model_id == model]
        if calls and not timed_out:  # a timeout was counted when it happened
            self._failed(model, f"{calls} calls failed: {', '.join(outcomes)}")
        return None

    def _hold(
        self, run: RunContext, capability: str, route: ModelRoute, model: str, input_tokens: int
    ) -> Hold:
        """Set aside the call's worst case (these input tokens, max_tokens out), or refuse it."""
        worst_case = self.policy.models[model].cost(input_tokens, route.max_tokens)
        try:
            return self._ledger.hold(run.correlation_id, worst_case, run.budget_usd)
        except OverBudget as over:
            raise BudgetExceeded(
                f"{capability}: the run has spent or set aside ${over.committed_usd:.6f}; a call to "
                f"{model} may cost up to ${worst_case:.6f}, over the flow's budget of "
                f"${run.budget_usd or 0:.6f}"
            ) from None

    def _failed(self, model: str, why: str) -> None:
        if self._breaker.record_failure(model, why):
            self._on_breaker_open(model, why)

    def _account(
        self,
        run: RunContext,
        capability: str,
        model: str,
        prompt: RenderedPrompt,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float,
        cache_hit: bool,
        outcome: str,
        cost: float = 0.0,
        hold: Hold | None = None,
        answer: tuple[str, CachedAnswer] | None = None,
    ) -> None:
        entry = LedgerEntry(
            capability=capability,
            model_id=model,
            prompt_id=prompt.prompt_id,
            policy_version=self.policy.version,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=round(latency_ms, 3),
            cost_usd=cost,
            cache_hit=cache_hit,
            outcome=outcome,
            flow=run.flow,
            tenant=run.tenant,
        )
        if hold is None:
            self._ledger.record(run.correlation_id, entry)
        elif answer is not None:
            self._cache.put_settling(*answer, self._ledger, hold, entry)
        else:
            self._ledger.settle(hold, entry)
        self._on_call(run, entry)
