"""The action policy: whether an action is allowed, and what exactly it does.

``act`` plans its one effect with :func:`plan`; the output guard asks the same
question of the proposed action before the flow gets to act. Each flow has its own
policy, ``statemachines/<flow>/actions.toml``. Its ``[four_eyes]`` says which proposed
actions need two approvals from two different reviewers (:func:`approvals_needed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiflows_runtime.contracts import ProposedAction, Severity
from aiflows_runtime.errors import FlowError
from aiflows_runtime.policies import ActionPolicy


class ActionNotAllowed(FlowError):
    """The action, or its target, is not on the flow's allowlist (its actions.toml)."""


@dataclass(frozen=True)
class PutEvent:
    source: str
    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class WriteRecord:
    record_type: str
    key: str
    data: dict[str, Any]


def plan(
    action: str, action_id: str, payload: dict[str, Any], policy: ActionPolicy
) -> PutEvent | WriteRecord:
    """Turn a requested action into the one effect the allowlist permits, or refuse it."""
    if action == "put_event":
        detail_type = str(payload.get("detail_type", ""))
        if detail_type not in policy.put_event.detail_types:
            raise ActionNotAllowed(
                f"put_event of {detail_type!r} is not allowed "
                f"(allowed: {list(policy.put_event.detail_types)})"
            )
        detail = payload.get("detail", {})
        if not isinstance(detail, dict):
            raise ActionNotAllowed("put_event needs a JSON object as its detail")
        return PutEvent(policy.put_event.source, detail_type, {**detail, "action_id": action_id})
    if action == "write_record":
        record_type = str(payload.get("record_type", ""))
        if record_type not in policy.write_record.record_types:
            raise ActionNotAllowed(
                f"write_record of {record_type!r} is not allowed "
                f"(allowed: {list(policy.write_record.record_types)})"
            )
        data = payload.get("data", {})
        if not isinstance(data, dict):
            raise ActionNotAllowed("write_record needs a JSON object as its data")
        return WriteRecord(record_type, f"record#{record_type}#{action_id}", data)
    raise ActionNotAllowed(f"unknown action {action!r} (allowed: put_event, write_record)")


RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
TARGET_FIELDS = {"put_event": "detail_type", "write_record": "record_type"}


def approvals_needed(policy: ActionPolicy, proposed: ProposedAction, risk: Severity) -> tuple[int, str]:
    """How many reviewers must approve ``proposed`` (1, or 2 for four eyes), and why, in words."""
    rules = policy.four_eyes
    target = str(proposed.payload.get(TARGET_FIELDS.get(proposed.action, ""), ""))
    named = {proposed.action, f"{proposed.action}:{target}"}
    if named & set(rules.actions):
        return (
            2,
            f"{proposed.action} of {target or 'any target'} needs two reviewers (actions.toml [four_eyes])",
        )
    if rules.risk_at_least is not None and RISK_ORDER[risk] >= RISK_ORDER[rules.risk_at_least]:
        return (
            2,
            f"risk {risk} needs two reviewers ([four_eyes] risk_at_least = {rules.risk_at_least!r})",
        )
    if rules.amount_over is not None:
        data = proposed.payload.get("data")  # a write_record's amount is in its data
        raw = proposed.payload.get(rules.amount_field)
        if raw is None and isinstance(data, dict):
            raw = data.get(rules.amount_field)
        if raw is not None:
            try:
                amount = float(str(raw).replace(",", ""))
            except ValueError:
                return 2, f"its {rules.amount_field} {raw!r} is not a number: two reviewers, to be safe"
            if amount > rules.amount_over:
                return 2, f"its {rules.amount_field} {amount:g} is over {rules.amount_over:g}: two reviewers"
    return 1, ""
