"""API Gateway REST APIs of the local cloud, invoked on its own endpoint:

    http://127.0.0.1:4599/restapis/<api id>/<stage>/_user_request_/<path>

AWS serves a stage at ``https://<api id>.execute-api.<region>.amazonaws.com/<stage>/``, a
host no local machine resolves; the local cloud serves it on the one endpoint, under this
path (:func:`invoke_url`), and answers each request as API Gateway does:

- the stage must exist (else ``403 {"message":"Forbidden"}``);
- the resource whose path template matches (a literal segment before ``{param}``, and
  ``{param+}`` for the rest) and its method, or ``ANY``, must exist (else API Gateway's
  ``403 {"message":"Missing Authentication Token"}``);
- a ``COGNITO_USER_POOLS`` method checks the ID token of its identity source header with
  the pools its authorizer names (:class:`localcloud.console.CognitoAuthorizer`), else
  ``401 {"message":"Unauthorized"}``, and the function never runs;
- an ``AWS_PROXY`` integration invokes its function with the REST proxy event
  (:func:`proxy_event`, "Input format of a Lambda function for proxy integration"), and the
  function's answer is the response; a function that fails is ``502 {"message": "Internal
  server error"}``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from localcloud.lambdas import InvocationError

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.console import CognitoAuthorizer

LOG = logging.getLogger("localcloud.rest_apis")

INVOKE_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
_FUNCTION = re.compile(r":lambda:path/[^/]+/functions/(?P<function>.+)/invocations$")

Answer = tuple[int, dict[str, str], bytes]


def invoke_url(endpoint: str, api_id: str, stage: str) -> str:
    """Where the local cloud serves a REST API's stage (what ``ReviewApiUrl`` is on AWS)."""
    return f"{endpoint.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_/"


def message(status: int, text: str) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps({"message": text}).encode()


def proxy_event(
    *,
    method: str,
    resource: str,
    path: str,
    stage: str,
    headers: Mapping[str, str],
    query: str,
    body: str | None,
    claims: Mapping[str, str] | None,
    path_parameters: Mapping[str, str] | None = None,
    api_id: str = "local",
) -> dict[str, Any]:
    """The event API Gateway's Lambda proxy integration passes a REST API's function."""
    multi_query = parse_qs(query, keep_blank_values=True)
    now = datetime.now(UTC)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "apiId": api_id,
            "stage": stage,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "protocol": "HTTP/1.1",
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "authorizer": {"claims": dict(claims)} if claims else None,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def proxy_answer(answer: Mapping[str, Any]) -> Answer:
    """The HTTP response of a proxy integration's function answer."""
    headers = {k: str(v) for k, v in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    body = answer.get("body") or ""
    payload = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    return int(answer.get("statusCode", 200)), headers, payload


def match(templates: Iterable[str], path: str) -> tuple[str, dict[str, str]] | None:
    """The resource path template a request path selects, and its path parameters.

    A literal segment wins over ``{param}``, which wins over a greedy ``{param+}``, as API
    Gateway picks the most specific resource.
    """
    wanted = [s for s in path.split("/") if s]
    fitting = []
    for template in templates:
        fit = _fit([s for s in template.split("/") if s], wanted)
        if fit is not None:
            fitting.append((fit[0], template, fit[1]))
    if not fitting:
        return None
    _, template, params = min(fitting)
    return template, params


def _fit(segments: list[str], wanted: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How specifically a template's segments match a path's (0 literal, 1 param, 2 greedy), or None."""
    rank: list[int] = []
    params: dict[str, str] = {}
    for i, segment in enumerate(segments):
        if i >= len(wanted):
            return None
        if segment.startswith("{") and segment.endswith("+}"):  # greedy: the rest of the path
            params[segment[1:-2]] = "/".join(wanted[i:])
            return (*rank, 2), params
        if segment.startswith("{") and segment.endswith("}"):
            params[segment[1:-1]] = wanted[i]
            rank.append(1)
        elif segment == wanted[i]:
            rank.append(0)
        else:
            return None
    return (tuple(rank), params) if len(segments) == len(wanted) else None


class RestApiInvocations:
    """A WSGI middleware in front of the cloud's endpoint: requests under ``/restapis/<id>/<stage>/
    _user_request_/`` are the REST APIs' invocations; every other request goes on to moto."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        cloud: LocalCloud,
        authorizers: Callable[[tuple[str, ...]], CognitoAuthorizer],
    ) -> None:
        self.app = app
        self.cloud = cloud
        self.authorizers = authorizers  # the Cognito authorizer of a set of user pool ARNs

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
        if not found:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else None
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        status, out_headers, payload = self.handle(
            environ["REQUEST_METHOD"],
            found["api"],
            found["stage"],
            found["path"] or "/",
            environ.get("QUERY_STRING", ""),
            headers,
            body,
        )
        out_headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        out_headers["Content-Length"] = str(len(payload))
        start_response(f"{status} {HTTPStatus(status).phrase}", list(out_headers.items()))
        return [payload]

    def handle(
        self,
        method: str,
        api_id: str,
        stage: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: str | None,
    ) -> Answer:
        from moto.apigateway.models import apigateway_backends

        backend = apigateway_backends[self.cloud.account][self.cloud.region]
        api = backend.apis.get(api_id)
        if api is None or stage not in api.stages:
            return message(403, "Forbidden")
        resources = {resource.get_path(): resource for resource in api.resources.values()}
        selected = match(resources, path)
        methods = resources[selected[0]].resource_methods if selected else {}
        chosen = methods.get(method) or methods.get("ANY")
        if selected is None or chosen is None:
            return message(403, "Missing Authentication Token")
        template, path_parameters = selected
        claims: dict[str, str] | None = None
        if chosen.authorization_type == "COGNITO_USER_POOLS":
            claims = self._claims(api, chosen.authorizer_id, headers)
            if claims is None:
                return message(401, "Unauthorized")
        integration = chosen.method_integration
        target = _FUNCTION.search(getattr(integration, "uri", "") or "")
        if integration is None or integration.integration_type != "AWS_PROXY" or target is None:
            LOG.warning(
                "%s %s: the local cloud invokes Lambda proxy integrations (AWS_PROXY) only, not %s",
                method,
                template,
                getattr(integration, "integration_type", "no integration"),
            )
            return message(500, "Internal server error")
        event = proxy_event(
            method=method,
            resource=template,
            path=path,
            stage=stage,
            headers=headers,
            query=query,
            body=body,
            claims=claims,
            path_parameters=path_parameters,
            api_id=api_id,
        )
        assert self.cloud.lambdas is not None
        try:
            answer = self.cloud.lambdas.invoke(target["function"], None, event)
        except InvocationError as failed:  # API Gateway's answer to a function that failed
            LOG.info("502 for %s %s: %s", method, path, failed)
            return message(502, "Internal server error")
        return proxy_answer(answer)

    def _claims(
        self, api: Any, authorizer_id: str | None, headers: Mapping[str, str]
    ) -> dict[str, str] | None:
        from localcloud.console import Unauthorized

        authorizer = api.authorizers.get(authorizer_id or "")
        if authorizer is None or not authorizer.provider_arns:
            return None
        source = (authorizer.identity_source or "method.request.header.Authorization").rsplit(".", 1)[-1]
        token = {k.lower(): v for k, v in headers.items()}.get(source.lower(), "").strip()
        token = token.removeprefix("Bearer ").strip()
        if not token:
            return None
        try:
            return self.authorizers(tuple(authorizer.provider_arns)).claims(token)
        except Unauthorized as refused:  # the client reads Unauthorized; the log says why
            LOG.info("401 on %s: %s", api.id, refused)
            return None


def stage_urls(cloud: LocalCloud, rest_api_ids: Iterable[str]) -> list[str]:
    """Where the local cloud serves each stage of these REST APIs (:func:`invoke_url`)."""
    apigateway = cloud.client("apigateway")
    return [
        invoke_url(cloud.endpoint, api_id, stage["stageName"])
        for api_id in rest_api_ids
        for stage in apigateway.get_stages(restApiId=api_id)["item"]
    ]
