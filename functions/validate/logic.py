"""validate, pure domain code: decide how a valid document travels through the flow."""

from __future__ import annotations

from dataclasses import dataclass

from aiflows_runtime.contracts import Document
from aiflows_runtime.policies import GuardPolicy


@dataclass(frozen=True)
class Route:
    size_bytes: int
    claim_check: bool
    long_running: bool


def route(document: Document, policy: GuardPolicy) -> Route:
    size = len(document.body.encode("utf-8"))
    return Route(
        size_bytes=size,
        claim_check=size > policy.inline_text_limit_bytes,
        long_running=size > policy.long_running_text_bytes,
    )


def claim_key(correlation_id: str, document_id: str) -> str:
    return f"claims/{correlation_id}/{document_id}.txt"
