"""The review API's REST API answers on the local cloud's own endpoint, as API Gateway answers its stage.

AWS serves the stage at ``https://<api id>.execute-api.<region>.amazonaws.com/prod/``; the local
cloud at ``<endpoint>/restapis/<api id>/prod/_user_request_/`` (localcloud/rest_apis.py). The
method's Cognito authorizer checks the ID token (401 ``Unauthorized`` otherwise), a path no
resource has is 403 ``Missing Authentication Token``, a stage that does not exist 403
``Forbidden``, and the function gets the REST proxy event with the resource's path template
and path parameters ("Input format of a Lambda function for proxy integration").
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

from aiflows.registry import ROOT
from aiflows_runtime.reviews import REVIEWERS_GROUP, DynamoDBReviews
from localcloud import Deployment, LocalCloud
from localcloud.rest_apis import invoke_url, match, stage_urls
from tests.capabilities.test_review_api import DETAILS
from tests.localcloud.test_console_auth import sign_up, signed_in

REVIEWER = "grace@acme.example"


def rest_api_id(app: Deployment) -> str:
    [api] = [r for k, r in app.resources.items() if app.resource_types[k] == "AWS::ApiGateway::RestApi"]
    return api


def call(url: str, token: str | None = None, data: dict[str, Any] | None = None) -> tuple[int, Any, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, headers=headers, data=body, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            raw, kind, status = answer.read().decode(), answer.headers.get("Content-Type", ""), answer.status
    except urllib.error.HTTPError as refused:
        raw, kind, status = refused.read().decode(), refused.headers.get("Content-Type", ""), refused.code
    return status, json.loads(raw) if kind.startswith("application/json") else raw, kind


@pytest.fixture(scope="module")
def api(cloud: LocalCloud, app: Deployment) -> str:
    return invoke_url(cloud.endpoint, rest_api_id(app), "prod")


@pytest.fixture(scope="module")
def acme_review(cloud: LocalCloud, app: Deployment) -> str:
    """A review of acme's waiting, by its id."""
    return DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb")).create(
        "invoke-acme", DETAILS
    )


@pytest.fixture(scope="module")
def id_token(cloud: LocalCloud, app: Deployment) -> str:
    pool, client = app.outputs["ReviewerUserPoolId"], app.outputs["ReviewConsoleClientId"]
    cognito = cloud.client("cognito-idp")
    cognito.create_group(UserPoolId=pool, GroupName="tenant:acme")
    sign_up(cognito, pool, REVIEWER, "tenant:acme", REVIEWERS_GROUP)
    DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb")).create(
        "invoke-acme", DETAILS
    )
    return signed_in(cognito, pool, client, REVIEWER)["IdToken"]


def test_the_stage_the_stack_deployed_is_served_on_the_endpoint(
    cloud: LocalCloud, app: Deployment, api: str
) -> None:
    # Given the deployed stack, whose ReviewApiUrl names its stage prod
    assert app.outputs["ReviewApiUrl"].endswith("/prod/")
    # Then the local cloud serves that stage, and only it
    assert stage_urls(cloud, [rest_api_id(app)]) == [api]
    # and the console's page, a method with no authorizer, answers without a token
    status, page, kind = call(api)
    assert status == 200 and kind.startswith("text/html") and "<html" in page.lower()


def test_a_reviewer_lists_and_reads_reviews_with_a_cognito_id_token(
    api: str, id_token: str, acme_review: str
) -> None:
    status, body, _ = call(api + "reviews", id_token)
    assert status == 200, body
    assert body["signed_in"]["reviewer"] == REVIEWER
    assert acme_review in {row["review_id"] for row in body["reviews"]}
    # a path parameter reaches the function through the resource /reviews/{review_id}
    status, review, _ = call(api + f"reviews/{acme_review}", id_token)
    assert status == 200 and review["review_id"] == acme_review, review


@pytest.mark.parametrize(
    ("path", "token", "status", "message"),
    [
        ("reviews", None, 401, "Unauthorized"),  # no token: the authorizer refuses it
        ("reviews", "not-a-jwt", 401, "Unauthorized"),
        ("nothing/here", None, 403, "Missing Authentication Token"),  # no resource of that path
    ],
)
def test_what_api_gateway_refuses_never_reaches_the_function(
    api: str, path: str, token: str | None, status: int, message: str
) -> None:
    answered, body, _ = call(api + path, token)
    assert (answered, body) == (status, {"message": message})


def test_a_stage_that_does_not_exist_is_forbidden(cloud: LocalCloud, app: Deployment) -> None:
    answered, body, _ = call(invoke_url(cloud.endpoint, rest_api_id(app), "nostage") + "reviews")
    assert (answered, body) == (403, {"message": "Forbidden"})


def test_the_review_cli_reads_the_served_api_and_says_where_none_answers(
    api: str, id_token: str, acme_review: str
) -> None:
    # Given the review CLI, pointed at the served stage with the reviewer's ID token
    cli = [sys.executable, "-m", "aiflows", "--token", id_token]
    listed = subprocess.run(
        [*cli, "--api", api, "reviews", "list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert acme_review in listed.stdout
    # and pointed at a port where nothing listens, it says so and where the API is, with no traceback
    nowhere = subprocess.run(
        [*cli, "--api", "http://127.0.0.1:9/", "reviews", "list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert nowhere.returncode == 2
    assert "no review API answers at http://127.0.0.1:9/" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("/reviews", ("/reviews", {})),
        ("/reviews/r-1", ("/reviews/{review_id}", {"review_id": "r-1"})),
        ("/reviews/r-1/decision", ("/reviews/{review_id}/decision", {"review_id": "r-1"})),
        ("/reviews/r-1/other", ("/{proxy+}", {"proxy": "reviews/r-1/other"})),
        ("/", ("/", {})),
    ],
)
def test_the_most_specific_resource_is_selected(path: str, selected: tuple[str, dict[str, str]]) -> None:
    templates = ["/", "/reviews", "/reviews/{review_id}", "/reviews/{review_id}/decision", "/{proxy+}"]
    assert match(templates, path) == selected
