"""boto3 clients, one per service per execution environment, made on first use (cold start stays light)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3

    return boto3.client(service)
