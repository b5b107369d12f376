"""The test kit for flows and capabilities: fixtures and helpers, loaded as a pytest plugin.

The repository's ``conftest.py`` loads it (``pytest_plugins = ["aiflows.testing"]``), so
a flow's own test (``statemachines/<flow>/test_<flow>.py``) and a capability's
(``functions/<name>/test_<name>.py``) have what the framework's tests have:

- ``fake_aws_credentials`` (automatic): no test reaches AWS;
- ``app_assembly``: the app, synthesized once for its sources (cdk-nag included);
- ``cloud``: a local cloud per test module (a module's ``LOCAL_CLOUD`` sets its time scale);
- ``app``: the app deployed into it; ``bus_events``: what the flows put on the bus;
- :func:`run_sample`, :func:`execution_of`, :func:`finished`, :func:`pending_review`,
  :func:`approve`, :func:`decide`, :func:`drained`, :func:`of_type`;
- :func:`copy_of_the_repository`, for a test that changes files as a user would.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from aiflows.registry import ROOT, camel
from localcloud import Deployment, LocalCloud

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

# Each test's tier, by its folder: `make test-<tier>` runs one (pytest -m <tier>).
TIERS = {
    "functions": "unit",  # a capability's own tests, beside its code
    "statemachines": "flows",  # a flow's own tests, in the local cloud
    "tests/unit": "unit",
    "tests/infra": "infra",
    "tests/capabilities": "localcloud",
    "tests/localcloud": "localcloud",
    "tests/fuzz": "fuzz",
    "tests/flows": "flows",
    "tests/browser": "browser",
    "tests/chaos": "chaos",
    "tests/stock": "stock",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier."""
    for item in items:
        relative = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        tier = next((t for folder, t in TIERS.items() if relative.startswith(folder + "/")), None)
        if tier is None:
            raise pytest.UsageError(f"{relative}: no test tier for its folder (aiflows/testing.py TIERS)")
        item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: every client gets fake credentials and a fixed region."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


def state_table_like_the_stacks(dynamodb: Any, name: str) -> str:
    """A table with the state table's keys and index (infra/constructs/state_table.py), for tests."""
    from aiflows_runtime.state.keys import PENDING_INDEX

    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": PENDING_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def new_execution_environment() -> None:
    """Forget what the runtime built once per execution environment (clients, settings, policies,
    the gateway, idempotency's layers and configs): the next handler imported builds its own, from
    the environment then, as a cold start does. Import the handler afresh after it."""
    from aiflows_runtime import capability, clients, policies, settings

    clients.client.cache_clear()
    settings.settings.cache_clear()
    policies.action_policy.cache_clear()
    capability.gateway.cache_clear()
    capability._persistence.cache_clear()
    capability._step_configs.clear()  # each step of a handler imported again registers anew


# What a synth reads besides its app script's own folder: the files `make synth` lists (Makefile
# SOURCES), the framework and its pins. An assembly is cached under a digest of all of them.
SYNTH_INPUTS = (
    "app.py",
    "cdk.json",
    "infra",
    "functions",
    "statemachines",
    "corpus",
    "aiflows",
    "requirements.txt",
    "package-lock.json",
)
ASSEMBLY_CACHE = ROOT / ".cache" / "assemblies"
ASSEMBLIES_KEPT = 3  # per app script: the newest, for sessions that still run on older sources


def synth_digest(app_script: Path) -> str:
    """A digest of everything ``app_script``'s synth reads: its inputs' paths and bytes, the
    interpreter, and the environment the CDK reads (``CDK_*``, ``AWS_*``)."""
    digest = hashlib.sha256(f"{sys.version}\0{app_script.resolve()}\0".encode())
    for name in sorted(k for k in os.environ if k.startswith(("CDK_", "AWS_"))):
        digest.update(f"{name}={os.environ[name]}\0".encode())
    folder = app_script.resolve().parent  # the harness's fixtures; the repository's own are listed
    roots = [ROOT / name for name in SYNTH_INPUTS] + ([folder] if folder != ROOT else [])
    files = {path for root in roots for path in ([root] if root.is_file() else root.rglob("*"))}
    for path in sorted(p for p in files if p.is_file() and "__pycache__" not in p.parts):
        digest.update(f"{os.path.relpath(path, ROOT)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def cached_assembly(app_script: Path) -> Path:
    """``app_script``'s cloud assembly, synthesized once for its sources.

    It is kept in the checkout (``.cache/assemblies``), so xdist's workers share one synth and
    a later run on the same sources synthesizes nothing; a changed source, pin or ``CDK_*``
    variable is a new digest, so a new synth. Callers read it and never write to it (a test
    that changes an assembly copies it first).
    """
    ASSEMBLY_CACHE.mkdir(parents=True, exist_ok=True)
    try:  # the script's own name: the app's and the harness's are both app.py
        name = "-".join(app_script.resolve().relative_to(ROOT).with_suffix("").parts)
    except ValueError:
        name = f"{app_script.parent.name}-{app_script.stem}"
    target = ASSEMBLY_CACHE / f"{name}-{synth_digest(app_script)}"
    with (ASSEMBLY_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one synth at a time; the others wait and find it built
        if not (target / "manifest.json").is_file():
            building = ASSEMBLY_CACHE / f".building-{target.name}"
            shutil.rmtree(building, ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)
            synth(app_script, building).rename(target)
            older = sorted(ASSEMBLY_CACHE.glob(f"{name}-*"), key=lambda p: p.stat().st_mtime_ns)
            for stale in older[:-ASSEMBLIES_KEPT]:
                shutil.rmtree(stale, ignore_errors=True)
    return target


def synth(app_script: Path, outdir: Path) -> Path:
    """Synthesize an app in a child process (jsii's node runtime stays out of the test process)."""
    subprocess.run(  # noqa: S603 - this interpreter, on the project's own app
        [sys.executable, str(app_script)],
        check=True,
        cwd=ROOT,
        env={
            **os.environ,
            "CDK_OUTDIR": str(outdir),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return outdir


@pytest.fixture(scope="session")
def app_assembly() -> Path:
    """The product's own app, synthesized once for its sources (cdk-nag included): :func:`cached_assembly`."""
    return cached_assembly(ROOT / "app.py")


@pytest.fixture(scope="module")
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    """A local cloud per test module; a module sets ``LOCAL_CLOUD`` for its own time scale."""
    settings = getattr(request.module, "LOCAL_CLOUD", {"time_scale": 0.01})
    with LocalCloud(**settings) as running:
        yield running


@pytest.fixture(scope="module")
def app(cloud: LocalCloud, app_assembly: Path) -> Deployment:
    """The product's app, deployed into the module's local cloud."""
    return cloud.deploy(app_assembly)


def pending_review(cloud: LocalCloud, app: Deployment, correlation_id: str, timeout: float = 60) -> str:
    """The id of the review a run asked for, once it is stored."""
    from aiflows_runtime.reviews import DynamoDBReviews

    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        review = store.of_run(correlation_id)
        if review is not None and review.status == "PENDING":
            return review.review_id
        time.sleep(0.05)
    raise AssertionError(f"no review requested for {correlation_id}")


def execution_of(
    cloud: LocalCloud, app: Deployment, event_id: str, *, flow: str, timeout: float = 60
) -> dict[str, Any]:
    """The flow's execution started for an event (its input's id), once it has started."""
    sfn = cloud.client("stepfunctions")
    machine = app.outputs[f"{camel(flow)}StateMachineArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for listed in sfn.list_executions(stateMachineArn=machine)["executions"]:
            described = sfn.describe_execution(executionArn=listed["executionArn"])
            if json.loads(described["input"])["id"] == event_id:
                return dict(described)
        time.sleep(0.02)
    raise AssertionError(f"no execution for event {event_id}")


@pytest.fixture(scope="module")
def bus_events(cloud: LocalCloud, app: Deployment) -> list[dict[str, Any]]:
    """Every event the flows put on the bus, as a subscriber receives them (a rule to a queue).

    The list fills as tests call :func:`drained`.
    """
    return subscribe_to_the_bus(cloud, app)


def subscribe_to_the_bus(cloud: LocalCloud, app: Deployment) -> list[dict[str, Any]]:
    """A rule that sends what the flows, reviews and actions put on the bus to a queue (see drained)."""
    from aiflows.traffic import action_sources
    from aiflows_runtime.contracts import SHARED_EVENTS

    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="bus-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sources = sorted({source for source, _ in SHARED_EVENTS.values()} | action_sources())
    bus = app.outputs["EventBusName"]
    events.put_rule(Name="capture", EventBusName=bus, EventPattern=json.dumps({"source": sources}))
    events.put_targets(Rule="capture", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return []


def drained(cloud: LocalCloud, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName="bus-capture")["QueueUrl"]
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return seen
        for message in batch:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def of_type(events: list[dict[str, Any]], detail_type: str, correlation_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["detail-type"] == detail_type and e["detail"].get("correlation_id") == correlation_id
    ]


def history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of an execution's history, oldest first, page after page (100 to a page)."""
    pages = (
        cloud.client("stepfunctions")
        .get_paginator("get_execution_history")
        .paginate(executionArn=execution_arn)
    )
    return [event for page in pages for event in page["events"]]


def finished(cloud: LocalCloud, execution: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """The execution, once it has ended."""
    return cloud.wait_for_execution(execution["executionArn"], timeout=timeout)


def run_sample(
    cloud: LocalCloud, app: Deployment, sample: Path, flow: str, approve_as: str | None = None
) -> dict[str, Any]:
    """Put a sample event on the bus and return the flow's execution once it ended.

    With ``approve_as``, the reviews the run asks for are approved as that reviewer would
    approve them (through the review API's own code), until the run ends.
    """
    from localcloud.__main__ import put_event_file

    event_id = put_event_file(cloud, app, sample)
    execution = execution_of(cloud, app, event_id, flow=flow)
    deadline = time.monotonic() + 60
    while approve_as and time.monotonic() < deadline:
        described = cloud.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        approve(cloud, app, event_id, approve_as, wait=0.2)
    return finished(cloud, execution)


def decide(
    cloud: LocalCloud,
    app: Deployment,
    review_id: str,
    decision: Literal["approve", "reject", "revise"],
    reviewer: str,
    reason: str = "",
) -> None:
    """Decide a review as a reviewer would, through the review API's own code (the flow goes on)."""
    from aiflows_runtime.contracts import ReviewDecision
    from aiflows_runtime.reviews import DynamoDBReviews, answer_flow

    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    answer = ReviewDecision(review_id=review_id, decision=decision, reviewer=reviewer, reason=reason)
    answer_flow(cloud.client("stepfunctions"), store.decide(answer), answer)


def approve(
    cloud: LocalCloud, app: Deployment, correlation_id: str, reviewer: str, wait: float = 60
) -> list[str]:
    """Approve the run's pending review, if it asks for one within ``wait`` seconds."""
    try:
        review_id = pending_review(cloud, app, correlation_id, timeout=wait)
    except AssertionError:
        return []
    decide(cloud, app, review_id, "approve", reviewer)
    return [review_id]


# What make installs each stamp from (the Makefile's rules for .venv/.installed and node_modules/.installed)
_INSTALLED_FROM = {
    ".venv/.installed": ("requirements.txt", "requirements-dev.txt", "functions/runtime/pyproject.toml"),
    "node_modules/.installed": ("package.json", "package-lock.json"),
}


def copy_of_the_repository(target: Path) -> Path:
    """The repository's files as they are (tracked, and new ones not ignored), with its venv and CLI."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607 - git on the PATH
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)  # times kept: make sees the venv as up to date
    for installed in (".venv", "node_modules"):
        (target / installed).symlink_to(ROOT / installed)
    # The copy shares this checkout's venv and CLI, so its make must see them as installed: what
    # they were installed from is dated no later than their stamps (the stamps are the checkout's).
    for stamp, sources in _INSTALLED_FROM.items():
        installed_at = (ROOT / stamp).stat().st_mtime_ns if (ROOT / stamp).exists() else None
        for installed_from in sources:
            copied = target / installed_from
            if installed_at is not None and copied.exists() and copied.stat().st_mtime_ns > installed_at:
                os.utime(copied, ns=(installed_at, installed_at))
    return target
