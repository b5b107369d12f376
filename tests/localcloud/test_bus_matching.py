"""A flow's rule in the local cloud: its source and detail-type match exactly, and nothing else starts it.

EventBridge (event patterns): "An event pattern either matches an event or it doesn't",
and "for strings, EventBridge uses exact character-by-character matching without
case-folding or any other string normalization". A rule sends the events it matches to
its targets; an event that matches no rule is accepted by PutEvents (it has an event id)
and goes to no target (the bus's ``MatchedEvents`` metric counts only events that matched
a rule). moto says nothing of such an event: the local cloud keeps it in
``LocalCloud.unmatched_events``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiflows.flows import flows, write_sample
from localcloud import LocalCloud
from localcloud.__main__ import main as localcloud_cli

ACCOUNT = "123456789012"
BUS = "locked"
TRIGGER = flows()["document_intake"].manifest.triggers[0]  # what the stack's rule matches
PASS = {"StartAt": "Started", "States": {"Started": {"Type": "Pass", "End": True}}}


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(time_scale=0.01) as running:
        yield running


@pytest.fixture
def machine(cloud: LocalCloud) -> str:
    """A flow started by a rule with the pattern EventBus.start_flow gives document_intake's trigger."""
    role = f"arn:aws:iam::{ACCOUNT}:role/starts-the-flow"
    arn: str = cloud.client("stepfunctions").create_state_machine(
        name="started-by-the-bus", definition=json.dumps(PASS), roleArn=role
    )["stateMachineArn"]
    events = cloud.client("events")
    events.create_event_bus(Name=BUS)
    pattern = {"source": list(TRIGGER.source), "detail-type": list(TRIGGER.detail_type)}
    events.put_rule(Name="starts-the-flow", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="starts-the-flow", EventBusName=BUS, Targets=[{"Id": "flow", "Arn": arn, "RoleArn": role}]
    )
    return arn


def _put(cloud: LocalCloud, source: str, detail_type: str) -> str:
    answer: dict[str, Any] = cloud.client("events").put_events(
        Entries=[{"EventBusName": BUS, "Source": source, "DetailType": detail_type, "Detail": "{}"}]
    )
    # PutEvents accepts an event whether or not a rule matches it
    assert answer["FailedEntryCount"] == 0
    return str(answer["Entries"][0]["EventId"])


def _runs(cloud: LocalCloud, machine: str) -> int:
    return len(cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"])


def test_the_triggers_source_and_detail_type_start_the_flow(cloud: LocalCloud, machine: str) -> None:
    # Given the flow's rule; When the trigger's own event is put on the bus
    before = _runs(cloud, machine)
    event_id = _put(cloud, TRIGGER.source[0], TRIGGER.detail_type[0])
    # Then it starts one run (the delivery happens inside PutEvents), and it is not an unmatched event
    assert _runs(cloud, machine) == before + 1
    assert event_id not in {e["event_id"] for e in cloud.unmatched_events}


UNNAMED = [
    (f"{TRIGGER.source[0]}.v2", TRIGGER.detail_type[0]),  # the trigger's source is a prefix of it
    (TRIGGER.source[0].rsplit(".", 1)[0], TRIGGER.detail_type[0]),  # a prefix of the trigger's source
    (TRIGGER.source[0].upper(), TRIGGER.detail_type[0]),  # no case-folding
    (f"{TRIGGER.source[0]} ", TRIGGER.detail_type[0]),  # no normalization
    ("attacker.anything", TRIGGER.detail_type[0]),  # a source no rule names
    (TRIGGER.source[0], f"{TRIGGER.detail_type[0]}.v2"),  # the right source, another detail-type
]


def test_an_event_the_rule_does_not_name_starts_nothing_and_is_seen_unmatched(
    cloud: LocalCloud, machine: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localcloud")
    for source, detail_type in UNNAMED:
        # Given the flow's rule; When an event of another source or detail-type is put on the bus
        before = _runs(cloud, machine)
        event_id = _put(cloud, source, detail_type)
        # Then no run starts
        assert _runs(cloud, machine) == before, f"{source!r} / {detail_type!r} started the flow"
        # And the local cloud keeps it as matched by no rule, and logs it
        assert {"event_id": event_id, "bus": BUS, "source": source, "detail_type": detail_type} in (
            cloud.unmatched_events
        ), f"{source!r} / {detail_type!r} is not in unmatched_events"
        assert any(event_id in r.getMessage() and "matched no rule" in r.getMessage() for r in caplog.records)


def test_the_demo_says_when_its_event_matched_no_rule(
    harness_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event file of a source no rule of the deployed app names
    event = tmp_path / "unknown.json"
    write_sample(
        {"EventBusName": "default", "Source": "nobody.knows", "DetailType": "test", "Detail": {}}, event
    )
    # When the demo puts it on the bus (its own local cloud: no other runs in this test)
    code = localcloud_cli(["demo", "--assembly", str(harness_assembly), "--event", str(event)])
    printed = capsys.readouterr().out
    # Then it says at once that the event started nothing, instead of waiting for a run, and fails
    assert "it matched no rule (source 'nobody.knows', detail-type 'test'): it starts nothing" in printed
    assert code == 1
