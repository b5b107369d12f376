"""EventBridge in the local cloud: a rule's targets are delivered by the cloud.

moto delivers a matched event inside ``PutEvents`` itself, and raises for the
targets it does not know (an SNS or Step Functions target made the whole call an
HTTP 500). Here every target but the ones moto models (CloudWatch Logs, another
event bus, an archive, an API destination) goes through the cloud's delivery:
Step Functions, Lambda, SQS and SNS are delivered with the target's input
transformation; a failed delivery, or a target of another kind, goes to the
target's dead-letter queue and ``LocalCloud.delivery_failures``. An event that no
rule on its bus matched is accepted and delivered nowhere, as on AWS, and handed to
``LocalCloud.deliver_nowhere``, so that it is seen not matched (moto says nothing).
CloudFormation's ``Ref`` of an event bus is its name (moto hands over the model).
``TestEventPattern`` answers ``Result`` by the same matching a rule does (moto answered an
empty body); an event without one of the fields the API reference calls mandatory (id,
account, source, time, region, resources, detail-type), or a pattern that is no pattern, is
``InvalidEventPatternException``.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


# TestEventPattern's event "must follow the format specified in AWS Events, and the following
# fields are mandatory" (EventBridge API reference, TestEventPattern)
TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.events.models import EventBus, EventsBackend, Rule
    from moto.events.responses import EventsHandler

    patches.add(EventBus, "physical_resource_id", property(lambda self: self.name))
    send = Rule.send_to_targets
    put = EventsBackend.put_events
    matched: set[str] = set()  # the ids of the events a rule matched, while their PutEvents runs
    lock = threading.Lock()

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        with lock:
            matched.add(original_event["id"])
        others = [t for t in self.targets if t["Arn"].split(":")[2:3] in (["logs"], ["events"])]
        routed = [t for t in self.targets if t not in others]
        for target in routed:
            cloud.deliver_event(target, original_event)
        if others:
            rest = copy.copy(self)
            rest.targets = others
            send(rest, original_event, transform_input)

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = put(self, events)
        for event, entry in zip(events, entries, strict=True):  # moto answers each entry in its place
            if "EventId" not in entry:
                continue  # refused (no Source, no Detail...): it is in the answer's FailedEntryCount
            with lock:
                hit = entry["EventId"] in matched
                matched.discard(entry["EventId"])
            if not hit:
                cloud.deliver_nowhere(
                    {
                        "event_id": entry["EventId"],
                        "bus": event.get("EventBusName") or "default",
                        "source": event["Source"],
                        "detail_type": event["DetailType"],
                    }
                )
        return entries

    def test_event_pattern(self: Any) -> str:
        from moto.events.exceptions import InvalidEventPatternException
        from moto.events.models import EventPattern, EventPatternParser

        raw = self._get_param("EventPattern")
        pattern = EventPatternParser(raw).parse()
        try:
            event = json.loads(self._get_param("Event") or "")
        except ValueError:
            raise InvalidEventPatternException(reason="the event is not JSON") from None
        missing = [f for f in TEST_EVENT_FIELDS if not isinstance(event, dict) or f not in event]
        if missing:
            raise InvalidEventPatternException(reason=f"the event lacks the mandatory {', '.join(missing)}")
        return json.dumps({"Result": EventPattern(raw, pattern).matches_event(event)})

    patches.replace(EventsHandler, "test_event_pattern", test_event_pattern)
    patches.replace(Rule, "send_to_targets", send_to_targets)
    patches.replace(EventsBackend, "put_events", put_events)
