"""Pydantic contracts at every boundary: events on the bus and each step's input and output."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiflows_runtime.errors import InvalidInput

EVENT_SOURCE = "aiflows.documents"
DOCUMENT_SUBMITTED = "document.submitted"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Document(Contract):
    """The ``detail`` of a ``document.submitted`` event."""

    document_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    tenant: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=512)
    text: str = Field(min_length=1)
    content_type: Literal["text/plain", "text/markdown"] = "text/plain"


class ClassifyInput(Contract):
    correlation_id: str = Field(min_length=1)
    document: Document


class Classification(Contract):
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)


M = TypeVar("M", bound=BaseModel)


def parse_input(event: Any, model: type[M]) -> M:
    """Parse a step's input with powertools' parser; a breach becomes ``InvalidInput``.

    The message lists each failing field, so the execution history shows what to fix.
    """
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInput(f"{model.__name__} rejected the input: {problems}") from None
