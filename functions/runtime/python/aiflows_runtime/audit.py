"""The audit trail: every decision, edit, escalation, expiry and performed action of a run.

Each is an :class:`~aiflows_runtime.state.AuditRecord` (who, when, what, and each edited
field's before and after), appended to the run's trail in the state table and never
changed: the store writes a record once, no route updates or deletes one, and the
stack's IAM denies every function ``UpdateItem`` and ``DeleteItem`` on ``audit#`` keys.
A record is kept ``AUDIT_RETENTION_DAYS`` (the stack's ``-c audit_retention_days``).
``python -m aiflows audit <run>`` prints a run's trail (docs/reviews.md#the-audit-trail).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiflows_runtime.clients import client
from aiflows_runtime.settings import settings
from aiflows_runtime.state import AuditRecord, DynamoDBAuditTrail

__all__ = ["AuditRecord", "RunOf", "flow_actor", "record", "trail"]


@dataclass(frozen=True)
class RunOf:
    """The run a record belongs to."""

    correlation_id: str
    flow: str
    tenant: str = ""  # act is not told the tenant: the run's other records name it


def trail() -> DynamoDBAuditTrail:
    """The function's audit trail: the stack's state table, kept as long as the stack says."""
    config = settings()
    return DynamoDBAuditTrail(
        config.state_table_name, client=client("dynamodb"), retention_days=config.audit_retention_days
    )


def flow_actor(flow: str) -> str:
    """The actor of what a flow did on its own (asked for a review, performed an action)."""
    return f"flow:{flow}"


def record(
    what: str,
    run: RunOf,
    *,
    actor: str,
    review_id: str = "",
    details: dict[str, Any] | None = None,
    changes: dict[str, dict[str, Any]] | None = None,
) -> AuditRecord:
    """Append one record to the run's trail, now; the record."""
    entry = AuditRecord(
        correlation_id=run.correlation_id,
        at=time.time(),
        actor=actor,
        what=what,
        flow=run.flow,
        tenant=run.tenant,
        review_id=review_id,
        details=details,
        changes=changes,
    )
    trail().append(entry)
    return entry
