"""Capabilities against moto and the local model: a local cloud with the state table, no stack."""

from __future__ import annotations

import importlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aiflows.flows import action_policies
from aiflows.testing import new_execution_environment, state_table_like_the_stacks
from localcloud import LocalCloud
from tests.conftest import ROOT, import_function_module

TABLE = "aiflows-test-state"
BUS = "aiflows-test"
CORPUS_BUCKET = "aiflows-test-corpus"
CORPUS_KEY = "corpus.zip"
CLAIMS = "aiflows-test-claims"


def create_state_table(cloud: LocalCloud, name: str = TABLE) -> str:
    return state_table_like_the_stacks(cloud.client("dynamodb"), name)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as running:
        running.client("events").create_event_bus(Name=BUS)
        s3 = running.client("s3")
        s3.create_bucket(Bucket=CORPUS_BUCKET)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted((ROOT / "corpus").glob("*.md")):
                archive.write(path, path.name)
        s3.put_object(Bucket=CORPUS_BUCKET, Key=CORPUS_KEY, Body=buffer.getvalue())
        yield running


@pytest.fixture(autouse=True)
def fresh_model(cloud: LocalCloud) -> None:
    """Each test starts with no scripted answers and no recorded calls."""
    cloud.model.reset()


@pytest.fixture
def state_table(cloud: LocalCloud) -> str:
    """A fresh state table per test: no cache, breaker or idempotency record leaks between tests."""
    return create_state_table(cloud, f"{TABLE}-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def function_env(cloud: LocalCloud, state_table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment CapabilityFunction gives a function, pointed at the local cloud."""
    for key, value in {
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "STATE_TABLE_NAME": state_table,
        "EVENT_BUS_NAME": BUS,
        "CORPUS_BUCKET": CORPUS_BUCKET,
        "CORPUS_KEY": CORPUS_KEY,
        "POWERTOOLS_METRICS_NAMESPACE": "AiFlows",
        "POWERTOOLS_SERVICE_NAME": "aiflows",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "ACTION_POLICIES": json.dumps(action_policies()),
    }.items():
        monkeypatch.setenv(key, value)
    new_execution_environment()


@pytest.fixture
def claim_bucket(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> str:
    """The claim bucket, and CLAIM_BUCKET naming it, as the stack gives the functions that claim-check."""
    s3 = cloud.client("s3")
    if CLAIMS not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=CLAIMS)
    monkeypatch.setenv("CLAIM_BUCKET", CLAIMS)
    return CLAIMS


def api_request(
    method: str, path: str, body: Any = None, claims: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the Cognito-authorized API sends it (no claims: signed out)."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": "req-1",
            "stage": "prod",
            "httpMethod": method,
            "path": f"/prod{path}",
            "resourcePath": path,
            "authorizer": {"claims": claims} if claims is not None else None,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def load_handler(capability: str) -> ModuleType:
    """The capability's handler, imported afresh: a new execution environment, built from this test's
    environment (its idempotency layer and clients), as a cold start builds it."""
    return importlib.reload(import_function_module(capability))


class Context:
    """The parts of the Lambda context the handlers read."""

    function_name = "test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def context() -> Context:
    return Context()


def corpus_files() -> list[Path]:
    return sorted((ROOT / "corpus").glob("*.md"))
