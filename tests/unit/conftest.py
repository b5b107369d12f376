"""Fakes for unit tests of the runtime: a clock, the local model as a Bedrock client, the run's state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from localcloud.model import LocalModel, ModelFault


@dataclass
class Clock:
    """Time that passes only when a test (or a fake waiting on it) says so."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Invocation:
    """A Lambda invocation's time left, on the fake clock."""

    clock: Clock
    ends_at: float = float("inf")

    def start(self, seconds: float) -> None:
        self.ends_at = self.clock.now + seconds

    def remaining(self) -> float:
        return self.ends_at - self.clock.now


@dataclass
class Bedrock:
    """The local model, called as boto3's bedrock-runtime client would call Bedrock, with no server.

    A model in ``hanging`` never answers: each call takes the client's whole connect and
    read timeout on the fake clock, then raises botocore's ReadTimeoutError.
    """

    model: LocalModel
    clock: Clock
    call_seconds: float
    hanging: set[str] = field(default_factory=set)
    sent: list[str] = field(default_factory=list)

    def converse(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request["modelId"])
        if request["modelId"] in self.hanging:
            self.clock.now += self.call_seconds
            raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")
        try:
            answer = self.model.converse(request)
        except ModelFault as fault:
            raise ClientError(
                {
                    "Error": {"Code": fault.code, "Message": fault.message},
                    "ResponseMetadata": {"HTTPStatusCode": fault.status},
                },
                "Converse",
            ) from None
        return answer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def model() -> Iterator[LocalModel]:
    yield LocalModel()
