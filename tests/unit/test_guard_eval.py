"""The guardrails' goals, measured on the labelled corpus (the same figures `make eval` prints)."""

from __future__ import annotations

import pytest

from evals.guard import GOALS, PII_KINDS, injection_scores, pii_scores, rows


def test_the_corpus_is_large_and_labelled_as_the_goals_need() -> None:
    injection = rows("injection.jsonl")
    pii = rows("pii.jsonl")
    assert len(injection) + len(pii) >= 500
    labels = {r["label"] for r in injection}
    assert labels == {"injection", "benign"}
    assert sum(r["tactic"] == "hard_negative" for r in injection) >= 100
    for kind in PII_KINDS:
        assert sum(p["kind"] == kind for r in pii for p in r["pii"]) >= 40, kind


def test_prompt_injection_recall_and_false_positive_rate_meet_the_goals() -> None:
    overall, _ = injection_scores()
    assert overall.recall >= GOALS["injection_recall"], overall.misses
    assert overall.fpr <= GOALS["injection_fpr"], overall.misses


@pytest.mark.parametrize("kind", PII_KINDS)
def test_pii_recall_meets_the_goal_for_each_structured_kind(kind: str) -> None:
    score = pii_scores()[kind]
    assert score.recall >= GOALS["pii_recall"], score.misses


def test_the_held_out_figures_do_not_fall_below_what_they_were_when_measured() -> None:
    # Floors, not goals: the held-out corpus says how the rules do on text they were not
    # written for (docs/guardrails.md); a change that makes that worse fails here.
    from evals.guard import HOLDOUT

    overall, _ = injection_scores(HOLDOUT)
    assert overall.recall >= 0.60 and overall.fpr <= 0.025, (overall.recall, overall.fpr)
    pii = pii_scores(HOLDOUT)
    assert sum(s.tp for s in pii.values()) / sum(s.tp + s.fn for s in pii.values()) >= 0.96
