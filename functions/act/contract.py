"""The act capability's contracts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from aiflows_runtime.contracts import Contract, StepInput


class ActInput(StepInput):
    action: str = Field(min_length=1)
    action_id: str = Field(min_length=1, max_length=256)
    payload: dict[str, Any]


class ActOutput(Contract):
    action: str
    action_id: str
    status: Literal["done"]
    reference: str
