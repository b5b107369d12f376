"""The console signs in a real local Cognito user, as API Gateway's Cognito authorizer would.

The stack's user pool, app client and groups are in the local cloud (localcloud/patches/cognito.py):
a user made with the stock cognito-idp calls gets an ID token from ``AdminInitiateAuth``, and the
console lets it through to the function with its claims. Every other token is API Gateway's 401,
``{"message":"Unauthorized"}``, and the function never runs.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiflows_runtime.reviews import REVIEWERS_GROUP, DynamoDBReviews
from localcloud import Deployment, LocalCloud
from localcloud.console import DEV_TOKEN, ConsoleServer, cognito_authorizer
from tests.capabilities.test_review_api import DETAILS

PASSWORD = "Corr3ct-Horse-Battery"  # the docs' (docs/local-cloud.md#the-review-console)
REVIEWER = "ada@acme.example"


@dataclass
class Console:
    server: ConsoleServer
    invoked: list[dict[str, Any]] = field(default_factory=list)  # the events the function received

    def get(self, path: str, authorization: str | None) -> tuple[int, Any]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        request = urllib.request.Request(f"{self.server.url}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())


@pytest.fixture(scope="module")
def console(cloud: LocalCloud, app: Deployment) -> Iterator[Console]:
    assert cloud.lambdas is not None
    lambdas = cloud.lambdas
    recorded: list[dict[str, Any]] = []

    def invoke(name: str, event: dict[str, Any]) -> Any:
        recorded.append(event)
        return lambdas.invoke(name, None, event)

    server = ConsoleServer(
        invoke=invoke,
        function=app.outputs["ReviewApiFunctionName"],
        authorizer=cognito_authorizer(cloud, app),
    )
    server.start()
    yield Console(server, recorded)
    server.stop()


def sign_up(cognito: Any, pool: str, username: str, *groups: str) -> None:
    """A user of ``pool``, as an administrator makes one (docs/reviews.md#who-may-review-what)."""
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
        TemporaryPassword="Temp-Passw0rd-123",
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)


def signed_in(cognito: Any, pool: str, client: str, username: str) -> dict[str, str]:
    """The user's tokens (IdToken, AccessToken), from AdminInitiateAuth."""
    answer = cognito.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return dict(answer["AuthenticationResult"])


@pytest.fixture(scope="module")
def reviewer(cloud: LocalCloud, app: Deployment) -> dict[str, str]:
    """acme's reviewer, signed in: the stack's pool and console client, from the stack's outputs."""
    pool, client = app.outputs["ReviewerUserPoolId"], app.outputs["ReviewConsoleClientId"]
    cognito = cloud.client("cognito-idp")
    cognito.create_group(UserPoolId=pool, GroupName="tenant:acme")  # an administrator's, as tenants come
    sign_up(cognito, pool, REVIEWER, "tenant:acme", REVIEWERS_GROUP)
    # and a review of acme's waiting, so that the tenant is one the reviews know
    DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb")).create(
        "token-acme", DETAILS
    )
    return signed_in(cognito, pool, client, REVIEWER)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def signed_by_the_pool(cloud: LocalCloud, pool: str, claims: dict[str, Any]) -> str:
    """A token with ``claims``, signed with the pool's own key (moto's), as Cognito would sign it."""
    from joserfc import jwt
    from moto.cognitoidp.models import cognitoidp_backends

    key = cognitoidp_backends[cloud.account][cloud.region].user_pools[pool].json_web_key
    return str(jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key))


def test_the_stacks_user_pool_signs_in_a_reviewer_through_the_console(
    console: Console, reviewer: dict[str, str]
) -> None:
    # Given acme's reviewer, signed in with AdminInitiateAuth
    # When it asks for the reviews with its ID token
    status, body = console.get("reviews", f"Bearer {reviewer['IdToken']}")
    # Then the function answers it, and names who is signed in: its email, role and tenants
    assert status == 200, body
    assert body["signed_in"] == {
        "reviewer": REVIEWER,
        "role": "reviewer",
        "every_tenant": False,
        "tenants": ["acme"],
    }
    assert [row["tenant"] for row in body["reviews"]] == ["acme"]
    # and the claims reached it as API Gateway passes them to a REST API: strings, the groups in one
    claims = console.invoked[-1]["requestContext"]["authorizer"]["claims"]
    assert claims["cognito:groups"] in ("tenant:acme,aiflows-reviewers", "aiflows-reviewers,tenant:acme")
    assert claims["token_use"] == "id" and claims["email"] == REVIEWER
    assert all(isinstance(value, str) for value in claims.values()), claims
    assert claims["exp"].endswith(time.strftime("UTC %Y", time.gmtime(claims_of(reviewer["IdToken"])["exp"])))


def test_the_development_token_still_signs_in(console: Console) -> None:
    status, body = console.get("reviews", f"Bearer {DEV_TOKEN}")
    assert status == 200, body
    assert body["signed_in"]["reviewer"] == "dev@localhost"


def refused(
    console: Console, authorization: str | None, caplog: pytest.LogCaptureFixture, because: str | None = None
) -> None:
    """API Gateway's 401, the function not invoked; and the console's log says ``because`` (the reason)."""
    before = len(console.invoked)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="localcloud.console"):
        assert console.get("reviews", authorization) == (401, {"message": "Unauthorized"})
    assert len(console.invoked) == before, "the function ran for a request the authorizer refuses"
    if because is not None:
        assert because in caplog.text, caplog.text


def test_an_expired_token_is_refused_before_the_function(
    cloud: LocalCloud,
    app: Deployment,
    console: Console,
    reviewer: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the reviewer's ID token, as its pool signs it, an hour past its exp
    # (Cognito: "Check the exp claim and make sure the token is not expired")
    claims = claims_of(reviewer["IdToken"])
    expired = {
        **claims,
        "iat": claims["iat"] - 7200,
        "auth_time": claims["iat"] - 7200,
        "exp": claims["iat"] - 3600,
    }
    token = signed_by_the_pool(cloud, app.outputs["ReviewerUserPoolId"], expired)
    refused(console, f"Bearer {token}", caplog, because="the token expired")
    # (the same token, not expired, is let through: it is the exp alone that refuses it)
    assert (
        console.get("reviews", f"Bearer {signed_by_the_pool(cloud, claims['iss'].rsplit('/')[-1], claims)}")[
            0
        ]
        == 200
    )


def test_a_token_of_an_unknown_user_pool_is_refused_before_the_function(
    cloud: LocalCloud, console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a user, with the same groups, of another pool in the same local cloud (moto signs every
    # pool's tokens with one key: its signature is good, its issuer is not the authorizer's pool)
    cognito = cloud.client("cognito-idp")
    other = cognito.create_user_pool(PoolName="elsewhere", UsernameAttributes=["email"])["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=other, ClientName="elsewhere")["UserPoolClient"]
    for group in ("tenant:acme", REVIEWERS_GROUP):
        cognito.create_group(UserPoolId=other, GroupName=group)
    sign_up(cognito, other, "mallory@elsewhere.example", "tenant:acme", REVIEWERS_GROUP)
    tokens = signed_in(cognito, other, client["ClientId"], "mallory@elsewhere.example")
    # (Cognito: "The iss claim should match your user pool")
    refused(
        console,
        f"Bearer {tokens['IdToken']}",
        caplog,
        because=f"{other}' is none of the authorizer's user pools",
    )


def test_a_token_whose_signature_is_not_the_pools_is_refused(
    console: Console, reviewer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given the reviewer's ID token with its claims changed (an administrator's group added), the
    # signature left as it was
    header, _, signature = reviewer["IdToken"].split(".")
    claims = {**claims_of(reviewer["IdToken"]), "cognito:groups": ["aiflows-admins"]}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    refused(
        console, f"Bearer {header}.{forged}.{signature}", caplog, because="signature is not the user pool's"
    )


def test_an_access_token_is_refused_where_the_method_has_no_scopes(
    console: Console, reviewer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # API Gateway: without OAuth scopes on the method, the authorizer takes the ID token
    refused(console, f"Bearer {reviewer['AccessToken']}", caplog, because="token_use is 'access'")


def test_a_token_of_another_app_client_is_refused(
    cloud: LocalCloud,
    app: Deployment,
    console: Console,
    reviewer: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Cognito: "The aud claim in an ID token ... should match the app client ID"
    claims = {**claims_of(reviewer["IdToken"]), "aud": "no-client-of-this-pool"}
    token = signed_by_the_pool(cloud, app.outputs["ReviewerUserPoolId"], claims)
    refused(console, f"Bearer {token}", caplog, because="aud 'no-client-of-this-pool' is no app client")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic ZGV2OmRldg==",
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Bearer dev2",
    ],
    ids=[
        "none",
        "empty",
        "bearer-alone",
        "bearer-blank",
        "basic",
        "not-a-jwt",
        "three-garbage-parts",
        "wrong-dev",
    ],
)
def test_a_malformed_authorization_header_is_refused(
    console: Console, authorization: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    refused(console, authorization, caplog)


def test_describe_stacks_lists_the_cognito_ids_list_user_pools_gives(
    cloud: LocalCloud, app: Deployment
) -> None:
    # AWS: DescribeStacks lists the outputs, each with its value: a pool's Ref is its id, a client's its id
    described = cloud.client("cloudformation").describe_stacks(StackName=app.stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    cognito = cloud.client("cognito-idp")
    pools = [
        p
        for p in cognito.list_user_pools(MaxResults=60)["UserPools"]
        if p["Id"] == outputs["ReviewerUserPoolId"]
    ]
    assert len(pools) == 1, (outputs, cognito.list_user_pools(MaxResults=60)["UserPools"])
    clients = cognito.list_user_pool_clients(UserPoolId=pools[0]["Id"])["UserPoolClients"]
    assert [c["ClientId"] for c in clients] == [outputs["ReviewConsoleClientId"]]
    groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=pools[0]["Id"])["Groups"]}
    assert {"aiflows-reviewers", "aiflows-admins"} <= groups
    # and the API's authorizer names that pool (its providerARNs, resolved)
    api = next(app.resources[k] for k, t in app.resource_types.items() if t == "AWS::ApiGateway::RestApi")
    authorizers = cloud.client("apigateway").get_authorizers(restApiId=api)["items"]
    pool_arn = cognito.describe_user_pool(UserPoolId=pools[0]["Id"])["UserPool"]["Arn"]
    assert [(a["type"], a["providerARNs"]) for a in authorizers] == [("COGNITO_USER_POOLS", [pool_arn])]
    assert "AWS::Cognito::UserPool" not in app.not_modeled


def test_a_redeploy_keeps_the_pool_its_users_and_their_sign_in(
    cloud: LocalCloud, app: Deployment, app_assembly: Path, console: Console, reviewer: dict[str, str]
) -> None:
    # CloudFormation updates a user pool in place: its id, and its users, stay
    again = cloud.deploy(app_assembly)
    keys = ("ReviewerUserPoolId", "ReviewConsoleClientId")
    assert {k: again.outputs[k] for k in keys} == {k: app.outputs[k] for k in keys}
    assert console.get("reviews", f"Bearer {reviewer['IdToken']}")[0] == 200
