"""A review nobody answers, under chaos: the runs that wait for a person end by name, the rest go on."""

from __future__ import annotations

from typing import Any

from aiflows.traffic import Traffic as Chaos
from aiflows.traffic import batch
from tests.chaos.conftest import check

# A review's wait and its reminder's in 9 s each, the escalation's two days in 35, the run's own
# week in 121 (a Task's timeout never under 8 s of real time).
LOCAL_CLOUD = {"time_scale": 0.0002, "timeout_floor": 8.0}


def test_runs_whose_review_times_out_end_in_their_timed_out_state(
    chaos: Chaos, bus_events: list[dict[str, Any]]
) -> None:
    # Given no reviewer at all, and flows of which some ask for a person
    chaos.reviewer = False
    names = (("document_intake", "review"), ("document_intake", "review"), ("document_intake", "clear"))
    runs = chaos.start(batch("review-timeout", names=names))
    # When the reviews, their reminders and their escalations time out
    chaos.wait(runs, timeout=240)
    chaos.resume_parked(runs, timeout=240)  # a step a loaded machine timed out past its retries
    # Then every invariant holds, and the runs that waited for a person ended in TimedOut
    summary = check(chaos, runs, bus_events, "review times out")
    assert summary["ended"].get("TimedOut", 0) >= 2  # the two that asked for a person, at least
    assert set(summary["ended"]) <= {"TimedOut", "SUCCEEDED"}
