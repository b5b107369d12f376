"""The local model: answers Bedrock's Converse in the local cloud. A development stand-in, not a model.

Handler code calls ``bedrock-runtime`` ``converse`` the same way locally and on
AWS; in the local cloud this engine answers. It finds the capability's prompt
template in its folder (``functions/<name>/prompts/``), recovers the variables from
the rendered text, and answers in Converse's response shape with token usage and a
stop reason. What it answers, deterministic for a given prompt, in this order:

1. a scripted answer or fault, for the capability or the model id, consumed in
   order (:meth:`LocalModel.script`, or lines of a script file, which
   ``python -m localcloud script`` appends to while ``make serve`` runs);
2. the capability's own heuristic: ``answer(variables)`` in its folder's
   ``local_model.py`` (classify's keywords vote, extract's patterns, summarize's
   ranked sentences, built on ``localcloud.heuristics``);
3. a valid answer derived from the capability's answer contract
   (``localcloud.answers``), grounded in the prompt's text where it can be.

Usage is counted at four characters a token; when the answer would pass the
request's ``maxTokens`` it is cut there and the stop reason is ``max_tokens``.

It answers the ids the gateway calls in any region: a model's own id, or one of its
inference profiles' (``us.anthropic...``, as ``policies/routing.toml`` lists them), which
is that model's answer: its scripts, its faults and its calls are the model's.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.answers import answer_from_contract
from localcloud.faults import Faults


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def called_model(model_id: str) -> str:
    """The model a call's id names: a profile id (``us.<model id>``) is its model's; others are themselves."""
    from aiflows_runtime.policies import routing_policy

    return routing_policy().model_of(model_id) or model_id


def hang_seconds() -> float:
    """Longer than a gateway's call may last (routing.toml's connect and read timeouts): a hang."""
    from aiflows_runtime.deadlines import call_seconds
    from aiflows_runtime.policies import routing_policy

    return call_seconds(routing_policy().gateway) + 1.0


# --- scripted behaviours ------------------------------------------------------
@dataclass(frozen=True)
class Throttle:
    message: str = "Too many requests, please wait before trying again."


@dataclass(frozen=True)
class ServiceError:
    code: str = "ServiceUnavailableException"
    message: str = "The service is unavailable. Try again."
    status: int = 503


@dataclass(frozen=True)
class Timeout:
    """Answer only after this many seconds: longer than the client's read timeout."""

    seconds: float


@dataclass(frozen=True)
class Malformed:
    text: str = '{"label": "invoice", "confidence": '


Scripted = str | Throttle | ServiceError | Timeout | Malformed
FAULTS = {"throttle": Throttle, "service_error": ServiceError, "timeout": Timeout, "malformed": Malformed}


def scripted(line: dict[str, Any]) -> Scripted:
    """One line of a script file: ``{"for": ..., "answer": ...}`` or ``{"for": ..., "fault": ...}``."""
    if "answer" in line:
        answer = line["answer"]
        return answer if isinstance(answer, str) else json.dumps(answer)
    fault = FAULTS.get(str(line.get("fault")))
    if fault is None:
        raise ValueError(f"a script line needs an answer, or a fault of {sorted(FAULTS)}: {line}")
    return fault(**{k: v for k, v in line.items() if k not in ("for", "fault")})


@dataclass(frozen=True)
class ModelCall:
    model_id: str
    prompt_id: str
    outcome: str  # ok | scripted | throttled | error | timeout | malformed
    input_tokens: int
    output_tokens: int
    correlation_id: str = ""  # the run the call was for (the request's metadata)
    called_as: str = ""  # the id the request named: the model's, or one of its profiles'

    @property
    def paid(self) -> bool:
        """Bedrock charges the tokens of an answer, valid or not; a refused or timed-out call has none."""
        return self.outcome in ("ok", "scripted", "malformed")


class ModelFault(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class LocalModel:
    """Scripts are keyed by a capability's name or a model id; a capability's come first."""

    scripts: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    calls: list[ModelCall] = field(default_factory=list)
    script_file: Path | None = None  # JSON lines, read as they are appended
    faults: Faults | None = None  # the chaos suite's model faults come before any script
    # the region it answers in, when given: a priced model's id that routing.toml does not give for
    # the region is refused as Bedrock refuses it (the model id of a model served only by a profile)
    region: str | None = None
    _read_lines: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, capability_or_model: str, *behaviours: Scripted) -> None:
        with self._lock:
            self.scripts[capability_or_model].extend(behaviours)

    def _read_script_file(self) -> None:
        if self.script_file is None or not self.script_file.is_file():
            return
        # whole lines only: a line still being written is read once it ends
        lines = self.script_file.read_text(encoding="utf-8").split("\n")[:-1]
        for number, line in enumerate(lines[self._read_lines :], start=self._read_lines + 1):
            self._read_lines = number  # a broken line is reported once, then passed over
            if line.strip():
                try:
                    entry = json.loads(line)
                    self.scripts[str(entry["for"])].append(scripted(entry))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{self.script_file}, line {number}: {exc}") from None

    def _next_behaviour(self, capability: str, model_id: str) -> Scripted | None:
        with self._lock:
            self._read_script_file()
            for key in (capability, model_id):
                queue = self.scripts.get(key)
                if queue:
                    return queue.popleft()
        return None

    def _injected(self, model_id: str) -> Scripted | None:
        if self.faults is None:
            return None
        if self.faults.strike("model.throttle", model_id):
            return Throttle()
        if self.faults.strike("model.hang", model_id):
            return Timeout(hang_seconds())
        if self.faults.strike("model.malformed", model_id):
            return Malformed()
        return None

    def reset(self) -> None:
        with self._lock:
            self.scripts.clear()
            self.calls.clear()

    def calls_to(self, model_id: str) -> list[ModelCall]:
        return [c for c in self.calls if c.model_id == model_id]

    def _refuse_an_id_the_region_does_not_serve(self, requested: str, model_id: str) -> None:
        from aiflows_runtime.policies import routing_policy

        policy = routing_policy()
        if self.region is None or model_id not in policy.models:
            return
        entry = policy.models[model_id]
        geography = requested.partition(".")[0] if requested != model_id else None
        served = (
            self.region in entry.in_region
            if geography is None
            else self.region in entry.profiles[geography].sources
        )
        if not served:
            raise ModelFault(
                "ValidationException",
                f"Invocation of model ID {requested} with on-demand throughput isn't supported in "
                f"{self.region}. Retry your request with the ID or ARN of an inference profile that "
                "contains this model.",
                400,
            )

    def converse(self, request: dict[str, Any]) -> dict[str, Any]:
        model_id = called_model(request["modelId"])
        self._refuse_an_id_the_region_does_not_serve(request["modelId"], model_id)
        started = time.perf_counter()
        system = " ".join(part.get("text", "") for part in request.get("system") or [])
        turns = [
            "".join(part.get("text", "") for part in m.get("content", []))
            for m in request.get("messages", [])
        ]
        text = turns[0] if turns else ""  # the rendered prompt; later turns are a repair's
        metadata = request.get("requestMetadata") or {}
        prompt_id = metadata.get("prompt") or _guess_prompt(text)
        correlation_id = str(metadata.get("correlation_id") or "")
        input_tokens = count_tokens(system + "".join(turns))
        behaviour = self._injected(model_id) or self._next_behaviour(prompt_id.partition("/")[0], model_id)

        def record(outcome: str, output_tokens: int = 0) -> None:
            with self._lock:
                self.calls.append(
                    ModelCall(
                        model_id,
                        prompt_id,
                        outcome,
                        input_tokens,
                        output_tokens,
                        correlation_id,
                        request["modelId"],
                    )
                )

        if isinstance(behaviour, Throttle):
            record("throttled")
            raise ModelFault("ThrottlingException", behaviour.message, 429)
        if isinstance(behaviour, ServiceError):
            record("error")
            raise ModelFault(behaviour.code, behaviour.message, behaviour.status)
        if isinstance(behaviour, Timeout):
            record("timeout")
            time.sleep(behaviour.seconds)
            raise ModelFault("ModelTimeoutException", "The model did not answer in time.", 408)
        if isinstance(behaviour, Malformed):
            answer, outcome = behaviour.text, "malformed"
        elif isinstance(behaviour, str):
            answer, outcome = behaviour, "scripted"
        else:
            answer, outcome = json.dumps(answer_for(prompt_id, text)), "ok"
        max_tokens = int((request.get("inferenceConfig") or {}).get("maxTokens") or 4096)
        stop_reason = "end_turn"
        if count_tokens(answer) > max_tokens:
            answer, stop_reason = answer[: max_tokens * 4], "max_tokens"
        output_tokens = count_tokens(answer)
        record(outcome, output_tokens)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": max(1, round((time.perf_counter() - started) * 1000))},
        }


# --- the heuristics -----------------------------------------------------------
def _template(prompt_id: str) -> Any:
    """The capability's own prompt template, read from its folder (``functions/<name>/prompts/``)."""
    from aiflows.registry import capabilities
    from aiflows_runtime.prompts import load

    capability, _, version = prompt_id.partition("/")
    info = capabilities().get(capability)
    if info is None:
        raise LookupError(f"the local model knows no capability {capability!r}")
    return load(info.folder, capability, version)


def _guess_prompt(text: str) -> str:
    from aiflows.registry import capabilities
    from aiflows_runtime.prompts import PromptError, load, versions

    for info in capabilities().values():
        for version in versions(info.folder):
            try:
                load(info.folder, info.name, version).parse(text)
            except PromptError:
                continue
            return f"{info.name}/{version}"
    return "unknown"


def answer_for(prompt_id: str, text: str) -> dict[str, Any]:
    """The capability's own heuristic's answer, or one derived from its answer contract."""
    from aiflows.registry import capabilities
    from aiflows_runtime.prompts import PromptError

    try:
        variables = _template(prompt_id).parse(text)
    except (LookupError, PromptError):
        return {"error": f"the local model does not know prompt {prompt_id}"}
    info = capabilities()[prompt_id.partition("/")[0]]
    if (info.folder / "local_model.py").is_file():
        heuristic: dict[str, Any] = info.module("local_model").answer(variables)
        return heuristic
    contract = info.answer_model()
    assert contract is not None  # the registry checked the prompt's output_model
    return answer_from_contract(contract, "\n".join(variables.values()))
