"""Prompt-injection detection in layers: normalise, then the policy's rules, then heuristics.

The rules (``policies/injection.toml``) are regular expressions over the normalised
text, each with a weight; the heuristics add weak signals that only count together:
a disguise (a business document has no reason to hide a word behind zero-width
characters or Cyrillic letters), words that talk to a model, and risky imperatives.
A text is an injection when its weights reach the policy's threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from aiflows_runtime.guardrails.normalize import Disguises, normalize_with_disguises
from aiflows_runtime.policies import InjectionPolicy

_TALKS_TO_MODEL = re.compile(
    r"\b(you|your|yourself)\b.{0,60}\b(prompt|instructions|model|ai|assistant|llm|rules|guidelines|restrictions)\b"
    r"|\b(prompt|instructions|model|ai|assistant|llm|rules|guidelines|restrictions)\b.{0,60}\b(you|your)\b"
)
_RISKY = re.compile(
    r"\b(approve|approved|verified|transfer|refund|payout|confidence|bank details|password|credentials|"
    r"send|forward|print|reveal|unrestricted|no restrictions|mark as|status|paid)\b"
)


@dataclass(frozen=True)
class InjectionVerdict:
    score: float
    rules: tuple[str, ...]  # the ids of the rules that matched
    signals: tuple[str, ...]  # the heuristics that fired
    detected: bool
    policy_version: str


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def detect_injection(text: str, policy: InjectionPolicy) -> InjectionVerdict:
    """Normalise the text, then :func:`assess` it."""
    return assess(*normalize_with_disguises(text), policy)


def assess(normalized: str, disguises: Disguises, policy: InjectionPolicy) -> InjectionVerdict:
    """The rules and heuristics over text that :func:`normalize_with_disguises` prepared."""
    joined = normalized.replace("\n", " ")
    texts = {"text": (joined,), "lines": (normalized,), "both": (joined, normalized)}
    rules = tuple(
        rule.id
        for rule in policy.rules
        if any(_compiled(rule.pattern).search(text) for text in texts[rule.reads])
    )
    score = sum(rule.weight for rule in policy.rules if rule.id in rules)
    signals = []
    weights = policy.heuristics
    if disguises:
        signals.append("disguised:" + "+".join(disguises.names()))
        score += weights.disguised
    if _TALKS_TO_MODEL.search(joined):
        signals.append("talks_to_model")
        score += weights.talks_to_model
    if _RISKY.search(joined):
        signals.append("imperative_risky")
        score += weights.imperative_risky
    return InjectionVerdict(
        score=round(score, 3),
        rules=rules,
        signals=tuple(signals),
        # heuristics alone decide only for a disguised text: a plain one needs a rule
        detected=score >= policy.threshold and (bool(rules) or bool(disguises)),
        policy_version=policy.version,
    )
