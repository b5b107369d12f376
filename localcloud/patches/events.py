"""EventBridge in the local cloud: a rule's targets are delivered by the cloud.

moto delivers a matched event inside ``PutEvents`` itself; here Step Functions and
Lambda targets go through the cloud's delivery (input transformation, failures to
the target's dead-letter queue). CloudFormation's ``Ref`` of an event bus is its
name (moto hands over the model).
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
        routed = [t for t in self.targets if ":states:" in t["Arn"] or ":lambda:" in t["Arn"]]
        others = [t for t in self.targets if t not in routed]
        for target in routed:
            cloud.deliver_event(target, original_event)
        if others:
            rest = copy.copy(self)
            rest.targets = others
            send(rest, original_event, transform_input)

    patches.replace(Rule, "send_to_targets", send_to_targets)
