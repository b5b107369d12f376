"""Four eyes: which proposed actions need two reviewers, and what each decision does.

docs/reviews.md#four-eyes: the action policy (a flow's actions.toml ``[four_eyes]``) marks an
action, an amount over a threshold or a risk as needing two approvals from two different
reviewers; the review stays pending after the first; a rejection by either ends it; a reviewer
never decides a review of a run they submitted.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aiflows_runtime.actions import approvals_needed
from aiflows_runtime.contracts import ProposedAction, ReviewDecision
from aiflows_runtime.policies import ActionPolicy
from aiflows_runtime.state import AlreadyApproved, Review
from aiflows_runtime.state.memory import MemoryReviews
from tests.conftest import import_function_module

logic = import_function_module("review_api", "logic")


def policy(**four_eyes: Any) -> ActionPolicy:
    return ActionPolicy.model_validate({"version": "t", "four_eyes": four_eyes})


def record(record_type: str, **data: Any) -> ProposedAction:
    return ProposedAction(action="write_record", payload={"record_type": record_type, "data": data})


@pytest.mark.parametrize(
    ("rules", "proposed", "risk", "needed"),
    [
        ({}, record("contract"), "high", 1),
        ({"actions": ["write_record:contract"]}, record("contract"), "low", 2),
        ({"actions": ["write_record:contract"]}, record("invoice"), "low", 1),
        ({"actions": ["write_record"]}, record("invoice"), "low", 2),
        ({"actions": ["put_event"]}, record("invoice"), "low", 1),
        ({"risk_at_least": "high"}, record("invoice"), "high", 2),
        ({"risk_at_least": "high"}, record("invoice"), "medium", 1),
        ({"amount_over": 10000}, record("invoice", amount="12,500.00"), "low", 2),
        ({"amount_over": 10000}, record("invoice", amount=9999.5), "low", 1),
        ({"amount_over": 10000}, record("invoice"), "low", 1),
        ({"amount_over": 10000, "amount_field": "total"}, record("invoice", total=20000), "low", 2),
        ({"amount_over": 10000}, record("invoice", amount="a lot"), "low", 2),  # unreadable: the safe side
    ],
)
def test_the_policy_says_how_many_reviewers_an_action_needs(
    rules: dict[str, Any], proposed: ProposedAction, risk: str, needed: int
) -> None:
    count, why = approvals_needed(policy(**rules), proposed, risk)  # type: ignore[arg-type]
    assert count == needed
    assert bool(why) == (needed == 2)  # the console says why it needs two


def test_a_four_eyes_rule_naming_no_action_is_refused_with_the_choices() -> None:
    with pytest.raises(ValidationError, match=r"'pay' names no action: write put_event or write_record"):
        policy(actions=["pay"])


def review(needed: int = 2, approvals: tuple[dict[str, Any], ...] = (), **details: Any) -> Review:
    return Review(
        "rv-1",
        "PENDING",
        1.0,
        {"approvals_needed": needed, "fields": {"total": {"value": "1"}}, **details},
        None,
        "acme",
        "run-1",
        approvals,
    )


def given(verdict: str, reviewer: str, **more: Any) -> ReviewDecision:
    return ReviewDecision(review_id="rv-1", decision=verdict, reviewer=reviewer, **more)  # type: ignore[arg-type]


def approval(reviewer: str, **more: Any) -> dict[str, Any]:
    return {"reviewer": reviewer, "decision": "approve", "reason": "", "edits": {}, **more}


def test_one_approval_is_final_when_the_action_needs_one() -> None:
    step = logic.next_step(review(needed=1), given("approve", "ana"))
    assert step.final is not None and step.final.approved_by == ["ana"]


def test_the_first_of_two_approvals_is_kept_and_the_second_by_another_reviewer_is_final() -> None:
    assert logic.next_step(review(), given("approve", "ana")).final is None
    step = logic.next_step(
        review(approvals=(approval("ana", reason="ok"),)), given("approve", "ben", reason="fine")
    )
    assert step.final is not None
    assert (step.final.decision, step.final.approved_by, step.final.reason) == (
        "approve",
        ["ana", "ben"],
        "ok; fine",
    )


def test_the_second_approval_by_the_same_reviewer_is_refused() -> None:
    with pytest.raises(AlreadyApproved):
        logic.next_step(review(approvals=(approval("ana"),)), given("approve", "ana"))


def test_a_rejection_by_either_reviewer_ends_the_review() -> None:
    step = logic.next_step(review(approvals=(approval("ana"),)), given("reject", "ana", reason="no"))
    assert step.final is not None and step.final.decision == "reject" and step.final.approved_by == ["ana"]


def test_a_revision_needs_another_reviewers_approval_of_its_values() -> None:
    revising = given("revise", "ben", edits={"total": "2"})
    step = logic.next_step(review(approvals=(approval("ana"),)), revising)
    assert (step.final, step.restart) == (None, True)
    revised = review(approvals=(approval("ben", decision="revise", edits={"total": "2"}),))
    final = logic.next_step(revised, given("approve", "ana")).final
    assert final is not None
    assert (final.decision, final.edits, final.approved_by) == ("revise", {"total": "2"}, ["ben", "ana"])


def test_nobody_decides_a_review_of_a_run_they_submitted() -> None:
    reviews = MemoryReviews()
    details = {
        "correlation_id": "run-1",
        "flow": "f",
        "subject": {"id": "d", "kind": "document", "tenant": "acme"},
        "submitted_by": "ana@example.com",
    }
    review_id = reviews.create("token", details)
    ana = logic.Reviewer("ana@example.com", "reviewer", frozenset({"acme"}))
    with pytest.raises(logic.OwnRun, match="you submitted the run of review"):
        logic.decidable_by(reviews, ana, review_id)
    ben = logic.Reviewer("ben@example.com", "reviewer", frozenset({"acme"}))
    assert logic.decidable_by(reviews, ben, review_id).review_id == review_id
