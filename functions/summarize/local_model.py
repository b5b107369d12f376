"""summarize in the local cloud: the most telling sentences, within the budget (never deployed)."""

from __future__ import annotations

from typing import Any

from localcloud.heuristics import summarize


def answer(variables: dict[str, str]) -> dict[str, Any]:
    return summarize(variables["text"], int(variables["max_words"]))
