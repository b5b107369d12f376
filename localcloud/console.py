"""The review console and API on 127.0.0.1, served by the local cloud.

Each HTTP request becomes an API Gateway REST proxy event and invokes the deployed
``review_api`` function, in its execution environment, exactly as API Gateway does
on AWS. Authentication stands in for the Cognito authorizer: a request must carry
``Authorization: Bearer <token>`` with the development token (``dev`` unless set
otherwise), and then reaches the function with the development identity's claims;
anything else gets API Gateway's 401 and never reaches the function.

The development identity is ``dev@localhost``, an administrator (every tenant) unless
the environment says otherwise, so that tenant isolation can be tried locally
(docs/reviews.md#who-may-review-what):

    AIFLOWS_DEV_ROLE=reviewer AIFLOWS_DEV_TENANTS=acme,globex make console

``AIFLOWS_DEV_ROLE`` is ``admin``, ``reviewer`` or ``none`` (reads its tenants' reviews,
decides nothing); ``AIFLOWS_DEV_TENANTS`` the tenants it reviews, comma-separated.
They become the Cognito groups of its claims, as API Gateway passes them.

A real local Cognito user signs in too: the stack's user pool is in the local cloud
(``localcloud/patches/cognito.py``), and :class:`CognitoAuthorizer` checks its ID token as
API Gateway's ``COGNITO_USER_POOLS`` authorizer does (docs/local-cloud.md#the-review-console).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP, TENANT_GROUP
from localcloud.lambdas import InvocationError
from localcloud.rest_apis import message, proxy_answer, proxy_event

if TYPE_CHECKING:
    from localcloud.cloud import Deployment, LocalCloud

LOG = logging.getLogger("localcloud.console")

DEV_TOKEN = "dev"  # noqa: S105 - the documented development identity, loopback only
DEV_CLAIMS = {"sub": "local-dev", "email": "dev@localhost", "cognito:username": "dev"}
DEV_ROLES = {"admin": ADMINS_GROUP, "reviewer": REVIEWERS_GROUP, "none": None}


def dev_claims(role: str = "admin", tenants: tuple[str, ...] = ()) -> dict[str, str]:
    """The development identity's claims: its role and tenants as Cognito groups, in one comma-separated
    string, as API Gateway's Cognito authorizer passes ``cognito:groups`` to a REST API's function."""
    if role not in DEV_ROLES:
        raise ValueError(f"the development identity's role is one of {', '.join(DEV_ROLES)}, not {role!r}")
    group = DEV_ROLES[role]
    groups = ([group] if group else []) + [f"{TENANT_GROUP}{t}" for t in tenants]
    return {**DEV_CLAIMS, **({"cognito:groups": ",".join(groups)} if groups else {})}


def dev_claims_from(environment: Mapping[str, str]) -> dict[str, str]:
    """The development identity ``AIFLOWS_DEV_ROLE`` and ``AIFLOWS_DEV_TENANTS`` describe."""
    tenants = tuple(t.strip() for t in environment.get("AIFLOWS_DEV_TENANTS", "").split(",") if t.strip())
    return dev_claims(environment.get("AIFLOWS_DEV_ROLE", "admin").strip() or "admin", tenants)


UNAUTHORIZED = message(401, "Unauthorized")  # API Gateway's
POOL_TYPE = "COGNITO_USER_POOLS"  # the authorizer type whose providerARNs name user pools
# API Gateway (REST) passes every claim to the function as a string; these two as dates, so
AS_DATES = ("exp", "iat")
DATE_FORMAT = "%a %b %d %H:%M:%S UTC %Y"  # "Sun Mar 28 13:40:42 UTC 2021"


class Unauthorized(Exception):
    """A token API Gateway's Cognito authorizer refuses (401); the message says why, for the log."""


def issuer_of(pool_arn: str) -> tuple[str, str]:
    """The ``iss`` of a user pool's tokens, and the pool's id, from its ARN."""
    region, pool_id = pool_arn.split(":")[3], pool_arn.rsplit("/", 1)[-1]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}", pool_id


def as_passed(claims: Mapping[str, Any]) -> dict[str, str]:
    """A token's claims as API Gateway passes them to a REST API's function: each one a string, a list
    claim (``cognito:groups``) comma-separated, ``exp`` and ``iat`` as dates, booleans ``true``/``false``."""
    passed: dict[str, str] = {}
    for name, value in claims.items():
        if name in AS_DATES and isinstance(value, int | float):
            passed[name] = datetime.fromtimestamp(value, UTC).strftime(DATE_FORMAT)
        elif isinstance(value, list | tuple):
            passed[name] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            passed[name] = "true" if value else "false"
        else:
            passed[name] = str(value)
    return passed


@dataclass
class CognitoAuthorizer:
    """API Gateway's ``COGNITO_USER_POOLS`` authorizer, for a method without OAuth scopes: it takes an
    ID token of one of its user pools, and refuses anything else.

    The checks are Cognito's for verifying a token ("Verifying JSON web tokens"): the signature, by
    the key of the token's ``kid`` in the pool's JWKS; ``iss``, the URL of a user pool the authorizer
    names (``providerARNs``); ``token_use`` ``id`` (without scopes on the method, an ID token is what
    the authorizer takes); ``exp`` not passed; ``aud``, an app client of that pool.
    """

    provider_arns: tuple[str, ...]
    key_set: Callable[[str], Mapping[str, Any]]  # a pool's id -> its JWKS (/<pool id>/.well-known/jwks.json)
    app_clients: Callable[[str], Collection[str]]  # a pool's id -> its app clients' ids
    clock: Callable[[], float] = time.time

    @property
    def pools(self) -> dict[str, str]:
        """The trusted issuers, each with its pool's id."""
        return dict(issuer_of(arn) for arn in self.provider_arns)

    def claims(self, token: str) -> dict[str, str]:
        """The token's claims, as the function receives them; :class:`Unauthorized` if refused."""
        from joserfc import jws, jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        try:
            unverified = json.loads(jws.extract_compact(token.encode()).payload)
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"not a JSON web token ({exc})") from exc
        if not isinstance(unverified, dict):
            raise Unauthorized("the token's payload is not a JSON object")
        issuer = unverified.get("iss")
        pool = self.pools.get(str(issuer))
        if pool is None:
            raise Unauthorized(f"issuer {issuer!r} is none of the authorizer's user pools")
        try:
            keys = KeySet.import_key_set(self.key_set(pool))  # type: ignore[arg-type]  # a JWKS, as JSON
            claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"the signature is not the user pool's ({type(exc).__name__})") from exc
        if claims.get("token_use") != "id":
            raise Unauthorized(f"token_use is {claims.get('token_use')!r}: the authorizer takes an ID token")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= self.clock():
            raise Unauthorized(f"the token expired (exp {expires!r})")
        if claims.get("aud") not in self.app_clients(pool):
            raise Unauthorized(f"aud {claims.get('aud')!r} is no app client of {pool}")
        return as_passed(claims)


def cognito_authorizer(cloud: LocalCloud, deployment: Deployment) -> CognitoAuthorizer | None:
    """The deployed stack's Cognito authorizer: the pools its REST APIs' ``COGNITO_USER_POOLS``
    authorizers name, their keys and app clients read from the local cloud; None if it has none."""
    apigateway = cloud.client("apigateway")
    apis = [
        deployment.resources[k]
        for k, t in deployment.resource_types.items()
        if t == "AWS::ApiGateway::RestApi"
    ]
    provider_arns = tuple(
        dict.fromkeys(
            arn
            for api in apis
            for authorizer in apigateway.get_authorizers(restApiId=api).get("items", [])
            if authorizer.get("type") == POOL_TYPE
            for arn in authorizer.get("providerARNs", [])
        )
    )
    if not provider_arns:
        return None
    return pools_authorizer(cloud, provider_arns)


def pools_authorizer(cloud: LocalCloud, provider_arns: tuple[str, ...]) -> CognitoAuthorizer:
    """A ``COGNITO_USER_POOLS`` authorizer of these pools: their keys and app clients, read from the
    local cloud when a token is checked."""
    cognito = cloud.client("cognito-idp")

    def key_set(pool: str) -> Mapping[str, Any]:
        # moto routes a JWKS request to cognito-idp by the service its Authorization header's credential
        # scope names, <key>/<date>/<region>/<service>/aws4_request (moto's CognitoIdpBackend says so)
        scope = f"local/20260101/{cloud.region}/cognito-idp/aws4_request"
        request = urllib.request.Request(  # noqa: S310 - the local cloud's endpoint, http on loopback
            f"{cloud.endpoint}/{pool}/.well-known/jwks.json",
            headers={
                "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=local"
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - as above
            return dict(json.loads(answer.read()))

    def app_clients(pool: str) -> set[str]:
        pages = cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool, MaxResults=60)
        return {client["ClientId"] for page in pages for client in page["UserPoolClients"]}

    return CognitoAuthorizer(provider_arns=provider_arns, key_set=key_set, app_clients=app_clients)


@dataclass
class ConsoleServer:
    invoke: Any  # (function name, event) -> the function's answer
    function: str
    host: str = "127.0.0.1"
    port: int = 0
    token: str = DEV_TOKEN
    claims: dict[str, str] = field(default_factory=lambda: dev_claims_from(os.environ))
    authorizer: CognitoAuthorizer | None = None  # a Cognito ID token signs in too (cognito_authorizer)

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the function logs each request
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else None
                status, headers, payload = server.handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def stop(self) -> None:
        self._httpd.shutdown()

    def identity(self, path: str, headers: dict[str, str]) -> dict[str, str] | None:
        """The claims the request reaches the function with (``{}`` on a public path), or None: a 401.

        ``Authorization`` holds the development token (``Bearer dev``) or, with an authorizer, a
        Cognito ID token, bare or after ``Bearer``, as API Gateway's Cognito authorizer reads it.
        """
        if path == "/" or path.startswith("/console/"):
            return {}  # the page and its assets; the API behind them asks for the token
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "").strip()
        if auth == f"Bearer {self.token}":
            return self.claims
        token = auth.removeprefix("Bearer ").strip()
        if self.authorizer is None or not token:
            return None
        try:
            return self.authorizer.claims(token)
        except Unauthorized as refused:  # the client reads Unauthorized; the log says why
            LOG.info("401 for %s: %s", path, refused)
            return None

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(raw_path)
        claims = self.identity(url.path, headers)
        if claims is None:
            return UNAUTHORIZED
        event = proxy_event(
            method=method,
            resource=url.path,
            path=url.path,
            stage="local",
            headers=headers,
            query=url.query,
            body=body,
            claims=claims,
        )
        try:
            answer = self.invoke(self.function, event)
        except InvocationError as exc:  # API Gateway's answer to a function that failed
            LOG.info("502 for %s %s: %s", method, url.path, exc)
            return message(502, "Internal server error")
        return proxy_answer(answer)
