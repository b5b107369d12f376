"""EventBridge in the local cloud: a rule's targets are delivered by the cloud.

moto delivers a matched event inside ``PutEvents`` itself, and raises for the
targets it does not know (an SNS or Step Functions target made the whole call an
HTTP 500). Here every target but the ones moto models (CloudWatch Logs, another
event bus, an archive, an API destination) goes through the cloud's delivery:
Step Functions, Lambda, SQS and SNS are delivered with the target's input
transformation; a failed delivery, or a target of another kind, goes to the
target's dead-letter queue and ``LocalCloud.delivery_failures``. CloudFormation's
``Ref`` of an event bus is its name (moto hands over the model).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.events.models import EventBus, Rule

    patches.add(EventBus, "physical_resource_id", property(lambda self: self.name))
    send = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        others = [t for t in self.targets if t["Arn"].split(":")[2:3] in (["logs"], ["events"])]
        routed = [t for t in self.targets if t not in others]
        for target in routed:
            cloud.deliver_event(target, original_event)
        if others:
            rest = copy.copy(self)
            rest.targets = others
            send(rest, original_event, transform_input)

    patches.replace(Rule, "send_to_targets", send_to_targets)
