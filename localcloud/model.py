"""The local model: answers Bedrock's Converse in the local cloud. A development stand-in, not a model.

(It also applies the stack's guardrails, for ApplyGuardrail: :class:`LocalGuardrails`, at the end.)

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
import re
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
    # the guardrails the stack created (localcloud/patches/guardrails.py), which ApplyGuardrail applies
    guardrails: LocalGuardrails = field(default_factory=lambda: LocalGuardrails())
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


# --- ApplyGuardrail -------------------------------------------------------------
# How the local Bedrock detects each PII entity type it models: with the project's own detectors
# (aiflows_runtime/pii.py), the kind they report, narrowed by the shape of the match where one kind
# covers several types. A type not here is never detected locally (its PII goes unreported).
LOCAL_PII_TYPES: dict[str, tuple[str, str | None]] = {  # type: (the project's kind, a shape it must have)
    "EMAIL": ("email", None),
    "PHONE": ("phone", None),
    "CREDIT_DEBIT_CARD_NUMBER": ("card_number", None),
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": ("iban", None),
    "US_SOCIAL_SECURITY_NUMBER": ("national_id", r"\d{3}-\d{2}-\d{4}"),
    "UK_NATIONAL_INSURANCE_NUMBER": ("national_id", r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]"),
}
_PII_DONE = {"BLOCK": "BLOCKED", "ANONYMIZE": "ANONYMIZED", "NONE": "NONE"}  # configured -> reported
TEXT_UNIT = 1000  # characters: Bedrock Guardrails bills each policy per text unit of up to 1,000


@dataclass
class LocalGuardrail:
    """One guardrail as CloudFormation created it: its DRAFT and each published version's configuration."""

    guardrail_id: str
    arn: str
    draft: dict[str, Any]  # the AWS::Bedrock::Guardrail properties
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    published: int = 0  # a version's number is never given twice, even once it is deleted

    def publish(self) -> str:
        self.published += 1
        self.versions[str(self.published)] = json.loads(json.dumps(self.draft))  # later edits leave it
        return str(self.published)


@dataclass
class LocalGuardrails:
    """ApplyGuardrail over the guardrails the stack created, in its documented response shape.

    The prompt-attack filter judges with the project's own injection rules (``injection.toml``:
    the same rules as the guard's first layer, so locally the second layer agrees with the first);
    the PII entities with the project's own detectors (:data:`LOCAL_PII_TYPES`).
    """

    by_id: dict[str, LocalGuardrail] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, guardrail_id: str, arn: str, properties: dict[str, Any]) -> LocalGuardrail:
        with self._lock:
            self.by_id[guardrail_id] = LocalGuardrail(guardrail_id, arn, properties)
            return self.by_id[guardrail_id]

    def delete(self, guardrail_id: str) -> None:
        with self._lock:
            self.by_id.pop(guardrail_id, None)

    def find(self, identifier: str) -> LocalGuardrail:
        """A guardrail by its id or its ARN, as ``guardrailIdentifier`` names it."""
        guardrail = self.by_id.get(identifier.rpartition("/")[2])
        if guardrail is None or (identifier.startswith("arn:") and identifier != guardrail.arn):
            raise ModelFault("ResourceNotFoundException", f"The guardrail {identifier} was not found.", 404)
        return guardrail

    def apply(
        self, identifier: str, version: str, source: str, content: list[dict[str, Any]]
    ) -> dict[str, Any]:
        guardrail = self.find(identifier)
        config = guardrail.draft if version == "DRAFT" else guardrail.versions.get(version)
        if config is None:
            raise ModelFault(
                "ResourceNotFoundException", f"The guardrail {identifier} has no version {version}.", 404
            )
        if source not in ("INPUT", "OUTPUT"):
            raise ModelFault("ValidationException", f"source must be INPUT or OUTPUT, not {source!r}.", 400)
        # the blocks to guard: unqualified text, or text qualified guard_content; grounding sources
        # and queries are for the contextual grounding check, which the local cloud does not model
        texts = [
            block["text"]["text"]
            for block in content
            if "text" in block
            and (not block["text"].get("qualifiers") or "guard_content" in block["text"]["qualifiers"])
        ]
        filters = self._prompt_attacks(config, source, texts)
        entities, outputs = self._pii(config, source, texts)
        blocked = any(f["action"] == "BLOCKED" for f in filters) or any(
            e["action"] == "BLOCKED" for e in entities
        )
        intervened = blocked or any(e["action"] == "ANONYMIZED" for e in entities)
        message = config["BlockedInputMessaging" if source == "INPUT" else "BlockedOutputsMessaging"]
        assessment: dict[str, Any] = {}
        if filters:
            assessment["contentPolicy"] = {"filters": filters}
        if entities:
            assessment["sensitiveInformationPolicy"] = {"piiEntities": entities, "regexes": []}
        units = sum(math.ceil(len(t) / TEXT_UNIT) for t in texts)
        characters = sum(len(t) for t in texts)
        answer: dict[str, Any] = {
            "usage": {
                "topicPolicyUnits": 0,
                "contentPolicyUnits": units if config.get("ContentPolicyConfig") else 0,
                "wordPolicyUnits": 0,
                "sensitiveInformationPolicyUnits": units
                if config.get("SensitiveInformationPolicyConfig")
                else 0,
                "sensitiveInformationPolicyFreeUnits": 0,
                "contextualGroundingPolicyUnits": 0,
            },
            "action": "GUARDRAIL_INTERVENED" if intervened else "NONE",
            "outputs": ([{"text": message}] if blocked else [{"text": t} for t in outputs])
            if intervened
            else [],
            "assessments": [assessment] if assessment else [],
            "guardrailCoverage": {"textCharacters": {"guarded": characters, "total": characters}},
        }
        if intervened:
            answer["actionReason"] = "Guardrail blocked." if blocked else "Guardrail masked."
        return answer

    @staticmethod
    def _prompt_attacks(config: dict[str, Any], source: str, texts: list[str]) -> list[dict[str, Any]]:
        from aiflows_runtime.guardrails.injection import detect_injection
        from aiflows_runtime.policies import injection_policy

        found = []
        for spec in (config.get("ContentPolicyConfig") or {}).get("FiltersConfig", []):
            strength = spec["InputStrength" if source == "INPUT" else "OutputStrength"]
            if spec["Type"] != "PROMPT_ATTACK" or strength == "NONE":
                continue
            if any(detect_injection(text, injection_policy()).detected for text in texts):
                found.append(
                    {
                        "type": "PROMPT_ATTACK",
                        "confidence": "HIGH",
                        "filterStrength": strength,
                        "action": "BLOCKED",
                        "detected": True,
                    }
                )
        return found

    @staticmethod
    def _pii(config: dict[str, Any], source: str, texts: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """The PII entities configured that the texts hold, and the texts with the anonymized ones masked."""
        from aiflows_runtime.pii import find_pii

        configured = {
            e["Type"]: e.get("InputAction" if source == "INPUT" else "OutputAction") or e["Action"]
            for e in (config.get("SensitiveInformationPolicyConfig") or {}).get("PiiEntitiesConfig", [])
            if e.get("InputEnabled" if source == "INPUT" else "OutputEnabled", True)
        }
        entities, masked = [], []
        for text in texts:
            spans = []
            for match in find_pii(text):
                value = text[match.start : match.end]
                for kind_type, (kind, shape) in LOCAL_PII_TYPES.items():
                    if (
                        kind_type in configured
                        and kind == match.kind
                        and (shape is None or re.fullmatch(shape, value))
                    ):
                        action = _PII_DONE[configured[kind_type]]
                        entities.append(
                            {"match": value, "type": kind_type, "action": action, "detected": True}
                        )
                        if action == "ANONYMIZED":
                            spans.append((match.start, match.end, kind_type))
                        break
            for start, end, kind_type in sorted(spans, reverse=True):
                text = f"{text[:start]}{{{kind_type}}}{text[end:]}"  # Bedrock masks as {EMAIL}
            masked.append(text)
        return entities, masked


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
