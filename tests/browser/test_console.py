"""The review console in headless Chromium (Debian's), against the local cloud."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflows_runtime.reviews import DynamoDBReviews
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file
from localcloud.console import DEV_TOKEN, ConsoleServer, dev_claims
from tests.conftest import pending_review

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "statemachines" / "document_intake" / "events"  # the flow's sample events
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
# Flags for a closed network: no background fetches, no first-run, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def console(cloud: LocalCloud, app: Deployment) -> Iterator[str]:
    assert cloud.lambdas is not None
    lambdas = cloud.lambdas
    server = ConsoleServer(
        invoke=lambda name, event: lambdas.invoke(name, None, event),
        function=app.outputs["ReviewApiFunctionName"],
    )
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_a_reviewer_approves_in_the_console_and_the_flow_completes(
    cloud: LocalCloud, app: Deployment, console: str, browser: object
) -> None:
    # Given a run waiting for a person
    event_id = put_event_file(cloud, app, SAMPLES / "review.json")
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    review_id = pending_review(cloud, app, event_id)

    # When the reviewer opens the console, reads the review and clicks Approve
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(f"{console}?token={DEV_TOKEN}")
    page.click(f"li[data-review-id='{review_id}']")
    # (who is signed in, and the tenants in scope: the development identity is an administrator)
    assert page.inner_text("#who") == "dev@localhost · admin · every tenant"
    page.wait_for_selector("#review:not([hidden])")
    assert page.inner_text("#doc-meta").startswith("document ")
    assert "contract" in page.inner_text("#details")  # the flow's own details: its label
    assert "%" in page.inner_text("#confidence-text")
    assert page.locator("#doc-text mark").count() >= 1  # evidence highlighted in the document
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    page.click("#approve")
    page.wait_for_function("document.getElementById('outcome').textContent.includes('Decision recorded')")
    page.wait_for_selector(f"li[data-review-id='{review_id}']", state="detached")  # off the queue

    # Then the flow completes, with the reviewer's approval
    sfn = cloud.client("stepfunctions")
    machine = app.outputs["DocumentIntakeStateMachineArn"]
    execution = next(
        e
        for e in sfn.list_executions(stateMachineArn=machine)["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["id"] == event_id
    )
    done = cloud.wait_for_execution(execution["executionArn"], timeout=60)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert json.loads(done["output"])["decision"] == "approve"
    assert store.get(review_id).decision["reviewer"] == "dev@localhost"


def test_a_reviewer_of_another_tenant_sees_who_they_are_and_not_this_tenants_run(
    cloud: LocalCloud, app: Deployment, browser: object
) -> None:
    # Given a run of acme waiting for a person, and a review of globex
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    acme = pending_review(cloud, app, put_event_file(cloud, app, SAMPLES / "review.json"))
    theirs = {"correlation_id": "run-globex", "flow": "document_intake", "proposed_action": {"action": "x"}}
    globex = store.create(
        "token-globex", {**theirs, "subject": {"id": "g-1", "kind": "document", "tenant": "globex"}}
    )
    # When globex's reviewer opens a console (AIFLOWS_DEV_ROLE=reviewer AIFLOWS_DEV_TENANTS=globex)
    assert cloud.lambdas is not None
    lambdas = cloud.lambdas
    server = ConsoleServer(
        invoke=lambda name, event: lambdas.invoke(name, None, event),
        function=app.outputs["ReviewApiFunctionName"],
        claims=dev_claims("reviewer", ("globex",)),
    )
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(f"{server.start()}?token={DEV_TOKEN}")
        page.wait_for_selector(f"li[data-review-id='{globex}']")
        # Then the header says who is signed in and the tenants in scope, and acme's run is not listed
        assert page.inner_text("#who") == "dev@localhost · reviewer · tenants globex"
        assert page.locator(f"li[data-review-id='{acme}']").count() == 0
    finally:
        page.close()
        server.stop()
    store.expire(globex)


def test_the_console_api_refuses_a_request_without_the_token(console: str) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{console}reviews", timeout=10)
    assert refused.value.code == 401


def test_the_cli_lists_shows_and_decides_reviews_through_the_same_api(
    cloud: LocalCloud, app: Deployment, console: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiflows.cli import main as cli

    # Given a run waiting for a person
    event_id = put_event_file(cloud, app, SAMPLES / "review.json")
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    review_id = pending_review(cloud, app, event_id)
    api = ["--api", console, "--token", DEV_TOKEN, "reviews"]
    # When a reviewer lists, reads and revises it from a shell
    assert cli([*api, "list"]) == 0
    assert review_id in capsys.readouterr().out
    assert cli([*api, "show", review_id]) == 0
    shown = capsys.readouterr().out
    assert "label       contract" in shown and "proposed" in shown
    assert cli([*api, "revise", review_id, "--edit", "total=4,900.00", "--reason", "typo in the total"]) == 0
    assert "revise recorded" in capsys.readouterr().out
    # Then the decision counts once, and a wrong token is refused
    assert cli([*api, "approve", review_id]) == 1
    assert "409" in capsys.readouterr().err
    assert cli(["--api", console, "--token", "wrong", "reviews", "list"]) == 2
    assert store.get(review_id).decision["edits"] == {"total": "4,900.00"}


def test_a_four_eyes_review_shows_who_approved_and_what_is_still_needed(
    cloud: LocalCloud, app: Deployment, console: str, browser: object
) -> None:
    # Given a review whose proposed action needs two reviewers (its flow's actions.toml [four_eyes])
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    review_id = store.create(
        "token-four-eyes",
        {
            "correlation_id": "run-four-eyes",
            "flow": "document_intake",
            "step": "Review",
            "subject": {"id": "fe-1", "kind": "document", "tenant": "acme"},
            "summary": "A high-risk invoice.",
            "confidence": 0.9,
            "risk": "high",
            "findings": [],
            "fields": {},
            "proposed_action": {"action": "write_record", "payload": {"record_type": "invoice"}},
            "approvals_needed": 2,
            "four_eyes": "risk high needs two reviewers",
        },
    )
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(f"{console}?token={DEV_TOKEN}")
        item = f"li[data-review-id='{review_id}']"
        page.wait_for_selector(item)
        assert "no approval yet; 2 more approvals needed" in page.inner_text(item)
        # When the reviewer approves it
        page.click(item)
        page.wait_for_selector("#four-eyes:not([hidden])")
        assert page.inner_text("#four-eyes").startswith("Four eyes: risk high needs two reviewers.")
        page.click("#approve")
        # Then the console says who approved and that another reviewer's approval is still needed
        page.wait_for_function("document.getElementById('outcome').textContent.includes('Approval recorded')")
        assert page.inner_text("#outcome") == (
            "Approval recorded: approved by dev@localhost; 1 more approval needed, from another reviewer."
        )
        # and the queue, loaded again, still lists it, with who approved
        page.wait_for_function(
            f"document.querySelector(\"{item}\").textContent.includes('approved by dev@localhost')"
        )
    finally:
        page.close()
    assert store.get(review_id).status == "PENDING"
    store.expire(review_id)
