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
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP, TENANT_GROUP
from localcloud.lambdas import InvocationError

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


@dataclass
class ConsoleServer:
    invoke: Any  # (function name, event) -> the function's answer
    function: str
    host: str = "127.0.0.1"
    port: int = 0
    token: str = DEV_TOKEN
    claims: dict[str, str] = field(default_factory=lambda: dev_claims_from(os.environ))

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

    def authorized(self, path: str, headers: dict[str, str]) -> bool:
        if path == "/" or path.startswith("/console/"):
            return True  # the page and its assets; the API behind them asks for the token
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        return auth == f"Bearer {self.token}"

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(raw_path)
        if not self.authorized(url.path, headers):
            return 401, {"Content-Type": "application/json"}, b'{"message":"Unauthorized"}'
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        event = {
            "resource": url.path,
            "path": url.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: v for k, v in parse_qs(url.query).items()} or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "stage": "local",
                "httpMethod": method,
                "path": url.path,
                "resourcePath": url.path,
                "authorizer": {"claims": self.claims},
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": body,
            "isBase64Encoded": False,
        }
        try:
            answer = self.invoke(self.function, event)
        except InvocationError as exc:  # API Gateway's answer to a function that failed
            return 502, {"Content-Type": "application/json"}, json.dumps({"message": str(exc)}).encode()
        out_headers = {k: v for k, v in (answer.get("headers") or {}).items()}
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        return int(answer["statusCode"]), out_headers, str(answer.get("body") or "").encode()
