"""The project's event bus, the rules on it that start flows, and who may put events on it.

The bus's resource policy, in one sentence: anyone but the stack's own producers may put
only the events that start flows (their triggers' sources and detail-types), and only
the principals named by ``-c bus_publishers`` (by default the stack's own account) may
put them. docs/events.md#who-may-put-events-on-the-bus says why each statement is there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import jsii
from aws_cdk import Duration, IResolvable, IResolveContext, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.flow import Flow
from infra.constructs.queues import resting_queue
from infra.nag import acknowledge
from infra.stage import PREFIX

BUS_NAME = PREFIX  # the default stage's; another stage's is aiflows-<stage> (infra/stage.py)
MAX_EVENT_AGE = Duration.hours(1)
RETRY_ATTEMPTS = 8
PUBLISHERS_CONTEXT = "bus_publishers"  # -c bus_publishers=<account id or role ARN>,...
PUT_EVENTS = "events:PutEvents"
_ACCOUNT = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class BusPublishersError(ValueError):
    """``-c bus_publishers`` names something that is neither an account id nor a role ARN."""


def publishers_of(value: object) -> tuple[list[str], list[str]]:
    """The accounts and role ARNs a ``bus_publishers`` context value names (comma-separated, or a list)."""
    names = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
    if names is None:
        raise BusPublishersError(f"context {PUBLISHERS_CONTEXT}={value!r}: give a comma-separated string")
    names = [str(name).strip() for name in names if str(name).strip()]
    wrong = [name for name in names if not (_ACCOUNT.match(name) or _ROLE_ARN.match(name))]
    if wrong or not names:
        raise BusPublishersError(
            f"context {PUBLISHERS_CONTEXT}: {', '.join(map(repr, wrong)) or 'nothing'} is not an account id "
            "(12 digits) or an IAM role ARN (arn:aws:iam::<account>:role/<name>); "
            f"e.g. -c {PUBLISHERS_CONTEXT}=111122223333,arn:aws:iam::444455556666:role/intake"
        )
    return [n for n in names if _ACCOUNT.match(n)], [n for n in names if _ROLE_ARN.match(n)]


@jsii.implements(IResolvable)
class _AtSynth:
    """A value produced at synth, once every rule and every producer is known.

    CDK resolves the tokens in what it returns. (``Lazy.any`` would do, but its producer is
    called through jsii without the context it declares, and fails.)
    """

    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce
        self.creation_stack: list[str] = []

    def resolve(self, _context: IResolveContext) -> Any:
        return self._produce()

    def to_string(self) -> str:
        return Token.as_string(self)


class _Bus(events.EventBus):
    """The bus, knowing its producers: the roles :meth:`grant_put_events_to` gave ``events:PutEvents``."""

    def __init__(self, scope: Construct, construct_id: str, *, event_bus_name: str) -> None:
        super().__init__(scope, construct_id, event_bus_name=event_bus_name)
        self.producers: list[Any] = []  # each an iam.IRole

    def grant_put_events_to(self, grantee: iam.IGrantable, sid: str | None = None) -> iam.Grant:
        principal = grantee.grant_principal
        if not hasattr(principal, "role_arn"):
            raise TypeError(
                f"the bus's policy exempts its producers by their role, and {grantee} has none: "
                "grant events:PutEvents to a function, a state machine or a role"
            )
        self.producers.append(principal)
        return super().grant_put_events_to(grantee, sid)


class EventBus(Construct):
    """A custom bus; :meth:`start_flow` adds a rule whose matching events start a flow.

    Every rule target shares one dead-letter queue: an event that EventBridge could
    not deliver after its retries is kept there instead of being dropped.

    The bus's resource policy locks it: see the module's docstring. The sources and
    detail-types it lets others put are exactly those of the rules :meth:`start_flow`
    adds; the producers it exempts, exactly the roles granted ``events:PutEvents`` on
    the bus with ``grant_put_events_to`` (a role given the action another way is
    denied by the bus).
    """

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str = BUS_NAME) -> None:
        super().__init__(scope, construct_id)
        self.event_bus = _Bus(self, "Default", event_bus_name=bus_name)
        self.target_dead_letter_queue = resting_queue(self, "TargetDeadLetterQueue")
        for finding in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.target_dead_letter_queue.node.find_child("Resource"),
                finding,
                "This queue is the dead-letter queue of the bus's rule targets (an EventBridge "
                "DeadLetterConfig, which the rule does not recognise); it needs no DLQ of its own.",
            )
        named = self.node.try_get_context(PUBLISHERS_CONTEXT)
        self.publisher_accounts, self.publisher_roles = (
            ([Stack.of(self).account], []) if named is None else publishers_of(named)
        )
        self.sources: list[str] = []  # what the rules match, in the order they were added
        self.detail_types: list[str] = []
        self._lock(bus_name)

    def _lock(self, bus_name: str) -> None:
        """The resource policy: three denies for everyone, one allow for the named publishers."""
        bus = self.event_bus

        def producers() -> list[str]:
            return list(dict.fromkeys(role.role_arn for role in bus.producers))  # a role granted twice: once

        def statement(
            sid: str, effect: str, principal: object, condition: Callable[[], dict[str, Any]]
        ) -> tuple[str, Any]:
            def produce() -> dict[str, Any]:
                kept = _without_empty(condition())
                return {
                    "Sid": sid,
                    "Effect": effect,
                    "Principal": principal,
                    "Action": PUT_EVENTS,
                    "Resource": bus.event_bus_arn,
                    **({"Condition": kept} if kept else {}),
                }

            return sid, _AtSynth(produce)

        publishers = [iam.AccountPrincipal(a).arn for a in self.publisher_accounts] + self.publisher_roles
        anyone = {"AWS": "*"}
        statements = {
            # 1. a principal that is neither a named publisher nor one of the stack's producers: nothing
            "DenyUnnamedPrincipals": statement(
                f"{bus_name}-deny-unnamed-principals",
                "Deny",
                anyone,
                lambda: {
                    "StringNotEquals": {"aws:PrincipalAccount": self.publisher_accounts},
                    "ArnNotEquals": {"aws:PrincipalArn": self.publisher_roles + producers()},
                },
            ),
            # 2. and 3. anyone but the producers: a trigger's source and detail-type, nothing else
            "DenyOtherSources": statement(
                f"{bus_name}-deny-other-sources",
                "Deny",
                anyone,
                lambda: {
                    "StringNotEquals": {"events:source": self.sources},
                    "ArnNotEquals": {"aws:PrincipalArn": producers()},
                },
            ),
            "DenyOtherDetailTypes": statement(
                f"{bus_name}-deny-other-detail-types",
                "Deny",
                anyone,
                lambda: {
                    "StringNotEquals": {"events:detail-type": self.detail_types},
                    "ArnNotEquals": {"aws:PrincipalArn": producers()},
                },
            ),
            # 4. what another account needs besides its own IAM (same-account principals need only theirs)
            "AllowPublishers": statement(
                f"{bus_name}-allow-publishers",
                "Allow",
                {"AWS": publishers},
                lambda: {
                    "StringEquals": {"events:source": self.sources, "events:detail-type": self.detail_types}
                },
            ),
        }
        # CfnEventBusPolicy: its statement is produced at synth, which the L2 EventBusPolicy does not take
        self.policies: list[events.CfnEventBusPolicy] = []
        for policy_id, (sid, produced) in statements.items():
            policy = events.CfnEventBusPolicy(
                self, policy_id, event_bus_name=bus.event_bus_name, statement_id=sid, statement=produced
            )
            if self.policies:  # one PutPermission at a time on the bus
                policy.node.add_dependency(self.policies[-1])
            self.policies.append(policy)

    def start_flow(
        self,
        rule_id: str,
        *,
        source: Sequence[str],
        detail_type: Sequence[str],
        flow: Flow,
        description: str | None = None,
    ) -> events.Rule:
        """Start ``flow``'s ``live`` alias with the whole event as its input, for each match.

        The pattern matches the event's ``source`` and ``detail-type`` exactly (plain
        strings, no prefix or wildcard filter), and the bus's policy lets the named
        publishers put exactly these. The target is the alias, not the state machine:
        pointing the alias back at an earlier version rolls back what new events
        start. The rule's role may start the flow through that alias only
        (:meth:`Flow.grant_start_live`); the target also grants ``states:StartExecution``
        on the alias ARN itself.
        """
        for value in (*source, *detail_type):
            if not isinstance(value, str) or not value:
                raise ValueError(f"rule {rule_id}: a source or detail-type is a plain string, not {value!r}")
        self.sources += [s for s in source if s not in self.sources]
        self.detail_types += [d for d in detail_type if d not in self.detail_types]
        role = iam.Role(
            self,
            f"{rule_id}Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"EventBridge starts {flow.name} (alias {flow.alias.name}) for rule {rule_id}",
        )
        flow.grant_start_live(role)
        rule = events.Rule(
            self,
            rule_id,
            event_bus=self.event_bus,
            description=description,
            event_pattern=events.EventPattern(source=list(source), detail_type=list(detail_type)),
            targets=[
                targets.SfnStateMachine(
                    flow.live,
                    role=role,
                    dead_letter_queue=self.target_dead_letter_queue,
                    max_event_age=MAX_EVENT_AGE,
                    retry_attempts=RETRY_ATTEMPTS,
                )
            ],
        )
        rule.node.add_dependency(flow.alias)  # the target names the alias by its ARN only
        return rule


def _without_empty(condition: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, list[Any]]]:
    """The condition without its keys that list nothing (no roles named, no producer yet, no rule yet).

    A deny is then broader, never narrower: without ``ArnNotEquals`` it exempts nobody.
    """
    kept = {op: {key: values for key, values in keys.items() if values} for op, keys in condition.items()}
    return {op: keys for op, keys in kept.items() if keys}
