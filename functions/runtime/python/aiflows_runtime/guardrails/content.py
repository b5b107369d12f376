"""The content policy: deny-list entries (each with its outcome) and allow-list entries.

Both are regular expressions over the normalised text. The allow list cuts its matches
out of the text for the deny entries that ask for review, so quoted procedure ("change of
bank details requires a signed letter") does not trip the entry it talks about; the
guard runs the entries that block, and the injection rules, on the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from aiflows_runtime.policies import ContentPolicy, ContentRule


@dataclass(frozen=True)
class ContentMatch:
    rule: ContentRule


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def without_allowed(normalized: str, policy: ContentPolicy) -> tuple[str, tuple[str, ...]]:
    """The text with every allowed span cut out, and the ids of the allow entries used."""
    used = []
    for rule in policy.allow:
        cut = _compiled(rule.pattern).sub(" ", normalized)
        if cut != normalized:
            used.append(rule.id)
            normalized = cut
    return normalized, tuple(used)


def denied(normalized: str, policy: ContentPolicy) -> list[ContentMatch]:
    """The deny entries the (allow-filtered, normalised) text matches."""
    return [ContentMatch(rule) for rule in policy.deny if _compiled(rule.pattern).search(normalized)]
