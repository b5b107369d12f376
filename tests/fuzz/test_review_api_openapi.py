"""The review API, fuzzed from its own OpenAPI document (``handler.openapi_document()``).

For every route and method the document declares, requests are generated from what it
declares: path parameters (the examples it documents or the ids of stored reviews, and
any value their schema allows), request bodies from their schemas, and a reviewer's
identity; then malformed ones: a body with one place broken, a body that is not JSON, a
path parameter past its bounds or of odd unicode, a caller who is not signed in (on the
routes the document says need the Cognito token); and valid bodies at extreme sizes.
Methods and paths the document does not declare are sent too. Each request goes through
the handler as an API Gateway REST proxy event (its path percent-encoded, as a REST API's).

Properties: no 5xx, ever; every 4xx body is JSON whose ``message`` says what is wrong (a
broken body's 422 names the field; a 404 names what was not found: the id, or the route);
every 2xx body satisfies the response schema the document declares for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from aiflows_runtime.reviews import DynamoDBReviews
from localcloud import LocalCloud
from tests.capabilities.conftest import Context, api_request, import_function_module, load_handler
from tests.capabilities.test_review_api import DETAILS, REVIEWER, wait_for_a_person
from tests.fuzz.examples import FUZZ, count
from tests.fuzz.schemas import ODD_UNICODE, Mutation, extremes, from_schema, mutations

pytestmark = pytest.mark.usefixtures("function_env")

DOCUMENT = json.loads(import_function_module("review_api").openapi_document())
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
OPERATIONS = [
    pytest.param(path, method.upper(), operation, id=f"{method.upper()} {path}")
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
]
VALID, MALFORMED, EXTREME = 20, 50, 10
SIGNED_OUT = [None, {}, {"email": ""}, {"custom:team": "reviewers"}]


@dataclass
class Request:
    method: str
    path: str
    values: dict[str, str] = field(default_factory=dict)  # the path parameters, as sent
    body: Any = None  # JSON-encoded when it is not a str
    claims: dict[str, Any] | None = None
    query: dict[str, str] | None = None
    mutation: Mutation | None = None  # the body's one broken place, if that is what is wrong

    def event(self) -> dict[str, Any]:
        path = self.path
        for name, value in self.values.items():
            path = path.replace(f"{{{name}}}", quote(value, safe=""))
        event = api_request(self.method, path, None, self.claims)
        event["body"] = (
            self.body if isinstance(self.body, str) or self.body is None else json.dumps(self.body)
        )
        event["queryStringParameters"] = self.query
        event["pathParameters"] = self.values or None
        event["resource"] = self.path
        return event


def send(api: Any, context: Context, request: Request) -> tuple[int, Any, str]:
    answer = api.lambda_handler(request.event(), context)
    content_type = answer["multiValueHeaders"]["Content-Type"][0]
    body = json.loads(answer["body"]) if content_type == "application/json" else answer["body"]
    return answer["statusCode"], body, content_type


def response_schema(operation: dict[str, Any], status: int) -> dict[str, Any] | None:
    declared = operation.get("responses", {}).get(str(status))
    content = (declared or {}).get("content", {}).get("application/json")
    return content.get("schema") if content else None


def judged(request: Request, operation: dict[str, Any] | None, status: int, body: Any) -> None:
    """No 5xx; a 4xx says what is wrong; a 2xx is what the document declares."""
    assert status < 500, f"{request.method} {request.path} {request.values} answered {status}: {body}"
    if status >= 400:
        assert isinstance(body, dict) and isinstance(body.get("message"), str), body
        message = body["message"]
        assert message.strip() and message.lower() not in ("not found", "bad request"), message
        if request.mutation is not None:
            assert status == 422, (status, body)
            named = ".".join(["body", *(str(p) for p in request.mutation.path)])
            assert named in message, f"{request.mutation.kind} at {named!r}: {message!r}"
        # (a REST API's path arrives percent-encoded, and so does a path parameter read from it)
        sent = [*request.values.values(), *(quote(v, safe="") for v in request.values.values())]
        if status == 404:  # what was not found: the id asked for, or the route
            assert any(n in message for n in [*sent, request.path]), message
        if status in (409, 410):
            assert any(n in message for n in sent), message
    elif operation is not None and isinstance(body, dict | list):
        schema = response_schema(operation, status)
        assert schema is not None, f"{request.method} {request.path}: no schema declared for {status}"
        Draft202012Validator({**schema, "components": DOCUMENT.get("components", {})}).validate(body)


def path_values(operation: dict[str, Any], ids: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Each path parameter: one of its documented examples, a stored review's id, or anything its
    schema allows."""
    params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
    values = {}
    for p in params:
        examples = [e["value"] for e in p.get("examples", {}).values()] or ids
        values[p["name"]] = st.one_of(st.sampled_from(examples), from_schema(p["schema"], DOCUMENT))
    return st.fixed_dictionaries(values)


def body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return body["schema"] if body else None


def valid_requests(
    path: str, method: str, operation: dict[str, Any], ids: list[str]
) -> st.SearchStrategy[Request]:
    schema = body_schema(operation)
    body = from_schema(schema, DOCUMENT) if schema else st.none()
    query = st.one_of(
        st.none(), st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=2)
    )
    return st.builds(
        Request, st.just(method), st.just(path), path_values(operation, ids), body, st.just(REVIEWER), query
    )


MALFORMED_VALUES = st.one_of(
    st.sampled_from(["x" * 3000, "\U0001f4a9" * 600, "..", "a/b", " ", "%00", "rv-" + "9" * 40]),
    st.sampled_from(ODD_UNICODE),
)
NOT_JSON = st.sampled_from(["", "not json", "{", '{"decision": "approve",}', "[]", "null", "42", '"approve"'])


def malformed_requests(
    path: str, method: str, operation: dict[str, Any], ids: list[str]
) -> st.SearchStrategy[Request]:
    """One thing wrong with a valid request: its body, a path parameter, or who sends it."""
    schema = body_schema(operation)
    valid = valid_requests(path, method, operation, ids)
    broken: list[st.SearchStrategy[Request]] = [
        st.tuples(valid, st.sampled_from(SIGNED_OUT)).map(lambda p: _with(p[0], claims=p[1])),
    ]
    params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    if params:
        broken.append(
            st.tuples(valid, st.sampled_from(params), MALFORMED_VALUES).map(
                lambda p: _with(p[0], values={**p[0].values, p[1]: p[2]})
            )
        )
    if schema:
        broken.append(
            st.tuples(valid, mutations(from_schema(schema, DOCUMENT), schema, DOCUMENT)).map(
                lambda p: _with(p[0], body=p[1].value, mutation=p[1])
            )
        )
        broken.append(st.tuples(valid, NOT_JSON).map(lambda p: _with(p[0], body=p[1])))
    return st.one_of(broken)


def _with(request: Request, **changes: Any) -> Request:
    return Request(**{**request.__dict__, **changes})


@pytest.fixture
def api(function_env: None) -> ModuleType:
    """The review API's handler, built once per case as a cold start builds it."""
    return load_handler("review_api")


@pytest.fixture(scope="module")
def review_ids(cloud: LocalCloud, state_table: str) -> list[str]:
    """Reviews in the states a request can meet: one a flow waits on (decided by the first valid
    decision, then decided), two whose flow is gone (their task tokens answer nothing), and an id
    no review has."""
    waiting, _ = wait_for_a_person(cloud, state_table)
    store = DynamoDBReviews(state_table, client=cloud.client("dynamodb"))
    # each of its own run: a second review of one run replaces the first (a reminder's does)
    gone = [
        store.create(f"token-of-a-stopped-flow-{n}", {**DETAILS, "correlation_id": f"run-gone-{n}"})
        for n in range(2)
    ]
    return [waiting, *gone, "rv-23456789"]  # (of the ids' alphabet: "rv-nothere" is malformed, a 422)


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_a_request_the_document_declares_is_answered_as_declared(
    path: str,
    method: str,
    operation: dict[str, Any],
    api: ModuleType,
    context: Context,
    review_ids: list[str],
) -> None:
    statuses: list[int] = []

    @settings(FUZZ, max_examples=VALID)
    @given(valid_requests(path, method, operation, review_ids))
    def check(request: Request) -> None:
        count(f"{method} {path}", "valid")
        status, body, _ = send(api, context, request)
        judged(request, operation, status, body)
        statuses.append(status)

    check()
    assert any(200 <= s < 300 for s in statuses), statuses  # some requests did the route's work


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_a_malformed_request_gets_a_4xx_that_says_what_is_wrong(
    path: str,
    method: str,
    operation: dict[str, Any],
    api: ModuleType,
    context: Context,
    review_ids: list[str],
) -> None:
    protected = bool(operation.get("security"))  # the routes behind the Cognito authorizer

    @settings(FUZZ, max_examples=MALFORMED)
    @given(malformed_requests(path, method, operation, review_ids))
    def check(request: Request) -> None:
        count(f"{method} {path}", "malformed")
        status, body, _ = send(api, context, request)
        judged(request, operation, status, body)
        if protected and request.claims in SIGNED_OUT and request.mutation is None:
            assert status in (401, 422), (status, body)  # a broken body is refused before who sends it

    check()


UNDECLARED = [
    pytest.param(path, method, id=f"{method} {path}")
    for path, item in DOCUMENT["paths"].items()
    for method in METHODS
    if method.lower() not in item
]


@pytest.mark.parametrize(("path", "method"), UNDECLARED)
def test_a_method_the_document_does_not_declare_is_refused_by_name(
    path: str, method: str, api: ModuleType, context: Context
) -> None:
    request = Request(method, path, {n: "rv-23456789" for n in re.findall(r"{(\w+)}", path)}, {}, REVIEWER)
    status, body, _ = send(api, context, request)
    assert 400 <= status < 500, (status, body)
    judged(request, None, status, body)
    assert method in body["message"], body


@settings(FUZZ, max_examples=40)
@given(path=st.text(min_size=1, max_size=40).map(lambda s: "/" + quote(s, safe="/")))
def test_a_path_the_document_does_not_declare_is_refused_by_name(
    path: str, api: ModuleType, context: Context
) -> None:
    assume(not any(re.fullmatch(re.sub(r"{\w+}", "[^/]+", p), path) for p in DOCUMENT["paths"]))
    count("undeclared paths", "malformed")
    status, body, _ = send(api, context, Request("GET", path, claims=REVIEWER))
    assert status == 404, (status, body)
    judged(Request("GET", path), None, status, body)
    assert path in body["message"], body


BODIES = [p for p in OPERATIONS if body_schema(p.values[2])]


@pytest.mark.parametrize(("path", "method", "operation"), BODIES)
def test_an_extreme_body_is_answered_without_a_5xx(
    path: str,
    method: str,
    operation: dict[str, Any],
    api: ModuleType,
    context: Context,
    review_ids: list[str],
) -> None:
    """Bodies the schema allows, at sizes no reviewer types (an API Gateway payload may reach 10 MB)."""
    schema = body_schema(operation)
    valid = valid_requests(path, method, operation, review_ids)

    @settings(FUZZ, max_examples=EXTREME, phases=(Phase.explicit, Phase.generate))
    @given(valid, extremes(from_schema(schema, DOCUMENT), schema, DOCUMENT))
    def check(request: Request, pushed: Mutation) -> None:
        count(f"{method} {path}", "extreme")
        request = _with(request, body=pushed.value)
        status, body, _ = send(api, context, request)
        judged(request, operation, status, body)

    check()
