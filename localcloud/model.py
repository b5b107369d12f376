"""The local model: answers Bedrock's Converse in the local cloud. A development stand-in, not a model.

Handler code calls ``bedrock-runtime`` ``converse`` the same way locally and on
AWS; in the local cloud this engine answers. It reads the same prompt templates as
the handlers (``aiflows_runtime.prompts``), recovers the variables from the
rendered text, and answers in Converse's response shape with token usage and a
stop reason. Its answers come from transparent heuristics, deterministic for a
given prompt:

- classify: each label's keywords vote (``LABEL_KEYWORDS``); confidence is the
  winner's share of the votes;
- extract: one regular expression per known field (``FIELD_PATTERNS``), the
  evidence being the exact matched text;
- summarize: the document's sentences ranked by the frequency of their words,
  kept in document order within the word budget.

Usage is counted at four characters a token; when the answer would pass the
request's ``maxTokens`` it is cut there and the stop reason is ``max_tokens``.

Tests script it per model id: an answer text, or a fault (:class:`Throttle`,
:class:`Timeout`, :class:`Malformed`, :class:`ServiceError`), consumed in order
before the heuristics answer again.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

LABEL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "amount due", "payment", "total", "vat", "bill to"),
    "contract": ("agreement", "party", "parties", "term", "termination", "governing law"),
    "complaint": ("complaint", "refund", "disappointed", "broken", "unacceptable"),
    "resume": ("experience", "education", "skills", "curriculum vitae", "employment"),
}

_AMOUNT = r"(?:\d{1,3}(?:[,.]\d{3})*|\d+)(?:[.,]\d{2})?"
FIELD_PATTERNS: dict[str, str] = {
    # an invoice number holds a digit: "Invoice for the services" has none
    "invoice_number": r"\binvoice\s*(?:no\.?|number|#)?\s*:?\s*(?P<v>[A-Z0-9-]{0,15}\d[A-Z0-9-]{0,15})\b",
    "date": r"\b(?P<v>\d{4}-\d{2}-\d{2}|\d{1,2} (?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December) \d{4})\b",
    "total": rf"\b(?:total|amount due)\s*:?\s*(?P<v>{_AMOUNT})",
    "currency": r"\b(?P<v>EUR|USD|GBP|CHF|JPY)\b",
    "email": r"\b(?P<v>[\w.+-]+@[\w-]+\.[\w.-]+)\b",
    "customer": r"\bbill to\s*:?\s*(?P<v>[A-Z][\w&.,' -]{1,60}?)(?=[.\n]|$)",
}

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or our that the this to was were "
    "will with we you your".split()
)


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


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


@dataclass(frozen=True)
class ModelCall:
    model_id: str
    prompt_id: str
    outcome: str  # ok | scripted | throttled | error | timeout | malformed
    input_tokens: int
    output_tokens: int


class ModelFault(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class LocalModel:
    scripts: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    calls: list[ModelCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, model_id: str, *behaviours: Scripted) -> None:
        with self._lock:
            self.scripts[model_id].extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self.scripts.clear()
            self.calls.clear()

    def calls_to(self, model_id: str) -> list[ModelCall]:
        return [c for c in self.calls if c.model_id == model_id]

    def converse(self, request: dict[str, Any]) -> dict[str, Any]:
        model_id = request["modelId"]
        started = time.perf_counter()
        system = " ".join(part.get("text", "") for part in request.get("system") or [])
        turns = [
            "".join(part.get("text", "") for part in m.get("content", []))
            for m in request.get("messages", [])
        ]
        text = turns[0] if turns else ""  # the rendered prompt; later turns are a repair's
        prompt_id = (request.get("requestMetadata") or {}).get("prompt") or _guess_prompt(text)
        input_tokens = count_tokens(system + "".join(turns))
        with self._lock:
            queue = self.scripts.get(model_id)
            behaviour = queue.popleft() if queue else None

        def record(outcome: str, output_tokens: int = 0) -> None:
            with self._lock:
                self.calls.append(ModelCall(model_id, prompt_id, outcome, input_tokens, output_tokens))

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
    from aiflows_runtime.prompts import PromptError

    try:
        variables = _template(prompt_id).parse(text)
    except (LookupError, PromptError):
        return {"error": f"the local model does not know prompt {prompt_id}"}
    capability = prompt_id.split("/")[0]
    if capability == "classify":
        labels = [label.strip(' "') for label in variables["labels"].split(",")]
        return classify(variables["title"] + "\n" + variables["text"], labels)
    if capability == "extract":
        return extract(variables["text"], [f.strip() for f in variables["fields"].split(",")])
    if capability in ("summarize", "worker"):
        return summarize(variables["text"], int(variables["max_words"]))
    return {"error": f"the local model has no heuristic for {capability}"}


def classify(text: str, labels: list[str]) -> dict[str, Any]:
    lowered = text.lower()
    votes = {
        label: [k for k in LABEL_KEYWORDS.get(label, ()) if re.search(rf"\b{re.escape(k)}\b", lowered)]
        for label in labels
    }
    votes = {label: hits for label, hits in votes.items() if hits}
    if not votes:
        return {"label": "other", "confidence": 0.0, "evidence": []}
    total = sum(len(hits) for hits in votes.values())
    label = max(sorted(votes), key=lambda name: len(votes[name]))
    return {"label": label, "confidence": round(len(votes[label]) / total, 4), "evidence": votes[label]}


def extract(text: str, fields: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in fields:
        pattern = FIELD_PATTERNS.get(name)
        match = re.search(pattern, text, flags=re.IGNORECASE) if pattern else None
        if match:
            found[name] = {"value": match.group("v").strip(), "evidence": match.group(0).strip()}
    return {"fields": found}


def summarize(text: str, max_words: int) -> dict[str, Any]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]
    frequency = Counter(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)

    def score(sentence: str) -> float:
        words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOPWORDS]
        return sum(frequency[w] for w in words) / (len(words) or 1)

    ranked = sorted(range(len(sentences)), key=lambda i: (-score(sentences[i]), i))
    chosen: list[int] = []
    used = 0
    for index in ranked:
        words = len(sentences[index].split())
        if used + words <= max_words:
            chosen.append(index)
            used += words
    if not chosen and sentences:
        return {"summary": " ".join(sentences[0].split()[:max_words])}
    return {"summary": " ".join(sentences[i] for i in sorted(chosen))}
