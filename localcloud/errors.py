"""AWS-shaped errors: what moto's server cannot answer is answered as an AWS endpoint would.

moto's server answers an operation it does not implement with an HTML page (a Flask 404
when no route matches a REST path, a 500 with the traceback logged when its dispatcher
raises ``NotImplementedError``), and an unexpected exception inside an operation it does
implement the same way. The stock AWS CLI and the SDKs cannot parse either: they print a
parse error instead of the service's error. :class:`ShapedErrors`, in front of moto's
server, turns each such answer into the error of the service's own protocol, read from
botocore's service model (moto's routers find the operation):

- ``json`` (awsJson1_0 / 1_1: Step Functions, DynamoDB, SQS, EventBridge, Logs, CloudWatch,
  Cognito, SSM): ``{"__type", "message"}`` with ``x-amzn-ErrorType``;
- ``rest-json`` (Lambda, API Gateway, X-Ray): ``{"message"}`` with ``x-amzn-ErrorType``;
- ``query`` (CloudFormation, IAM, SNS): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>
  <RequestId/></ErrorResponse>``;
- ``rest-xml`` (S3): ``<Error><Code/><Message/><RequestId/></Error>``.

An operation moto does not model answers the code AWS gives an operation a service does
not know (``UnknownOperationException``; ``InvalidAction`` in the query protocol, S3's
``NotImplemented``), naming the operation; a part of an operation moto implements but does
not model (it raises ``NotImplementedError``) answers ``NotImplemented`` (501); an exception
inside moto answers ``InternalFailure`` (S3: ``InternalError``), 500, and is logged in one
line, never as a traceback. Every answer carries a request id, as AWS's do.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from moto import __version__ as moto_version

LOG = logging.getLogger("localcloud.errors")

# (code, HTTP status) by protocol: an operation the local cloud does not model, a failure inside moto.
# The query protocol's common errors: "InvalidAction: The action or operation requested is invalid"
# (400), "InternalFailure: The request processing has failed because of an unknown error" (500);
# AWS's JSON endpoints answer a target they do not know with UnknownOperationException (400; no API
# reference lists it, the SDKs read it as any code);
# S3's error codes: NotImplemented (501 Not Implemented), InternalError (500).
_NOT_MODELED = {
    "json": ("UnknownOperationException", 400),
    "rest-json": ("UnknownOperationException", 400),
    "query": ("InvalidAction", 400),
    "ec2": ("InvalidAction", 400),
    "rest-xml": ("NotImplemented", 501),
}
_PART_NOT_MODELED = ("NotImplemented", 501)  # a modeled operation, a feature of it moto lacks
_FAILURE = {
    "json": ("InternalFailure", 500),
    "rest-json": ("InternalFailure", 500),
    "query": ("InternalFailure", 500),
    "ec2": ("InternalFailure", 500),
    "rest-xml": ("InternalError", 500),
}
_REASONS = {400: "Bad Request", 500: "Internal Server Error", 501: "Not Implemented"}
_MOTO_NOT_IMPLEMENTED = "action has not been implemented"  # moto's own message for an unknown action


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Call:
    """The service (botocore's name, its model) and the operation a request calls."""

    service: str  # botocore's name: "lambda", "stepfunctions", "cognito-idp"
    service_id: str  # the model's serviceId: "Lambda", "SFN", "CloudWatch Logs"
    protocol: str
    operation: str  # "GetAccountSettings", or "GET /2016-08-19/foo" when no operation matches
    json_version: str


class ShapedErrors:
    """WSGI middleware in front of moto's server: HTML and exceptions become AWS-shaped errors.

    ``app`` is moto's ``DomainDispatcherApplication``: it says which service a request is for.
    A request that names no AWS service (moto's own dashboard, ``/moto-api``) passes untouched.
    """

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = _buffered_form(environ)
        held: list[tuple[str, list[tuple[str, str]], Any]] = []
        passing = False

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            if passing:
                return start_response(status, headers, exc_info)
            held[:] = [(status, headers, exc_info)]
            return _no_write

        try:
            chunks = self._app(environ, hold)
        except NotImplementedError as exc:
            call = self._call(environ, body)
            return _answer(environ, start_response, not_modeled_answer(call, str(exc)))
        except Exception as exc:  # noqa: BLE001 - every failure inside moto becomes InternalFailure
            call = self._call(environ, body)
            return _answer(environ, start_response, failure_answer(call, _one_line(exc), environ))
        if not held:  # the app starts its answer lazily: let it through as it comes
            passing = True
            return chunks
        status, headers, exc_info = held[0]
        code = int(status.split(" ", 1)[0])
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        call = self._call(environ, body) if code >= 400 and content_type.startswith("text/html") else None
        if call is None:  # moto's own answer, or a page that is no AWS service's (moto's dashboard)
            start_response(status, headers, exc_info)
            return chunks
        if hasattr(chunks, "close"):
            chunks.close()
        if code < 500:  # Flask's 404 or 405: no route of moto's matches the request
            return _answer(environ, start_response, not_modeled_answer(call, ""))
        detail = f"moto answered {status} with an HTML page"
        return _answer(environ, start_response, failure_answer(call, detail, environ))

    def _call(self, environ: dict[str, Any], body: bytes) -> Call | None:
        try:
            backend = self._app.get_application(_replayable(environ, body)).service
        except Exception:  # noqa: BLE001 - a request moto cannot place names no service to shape for
            return None
        service = _botocore_name(str(backend))
        return _call_of(service, _replayable(environ, body)) if service else None


def _answer(environ: dict[str, Any], start_response: Callable[..., Any], answer: Answer) -> Iterable[bytes]:
    start_response(
        f"{answer.status} {_REASONS.get(answer.status, 'Error')}",
        [*answer.headers, ("Content-Length", str(len(answer.body)))],
    )
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [answer.body]


def not_modeled_answer(call: Call | None, detail: str) -> Answer:
    """An operation moto does not implement; or, when ``detail`` is moto's word for a part of one it
    does (a feature, a parameter), ``NotImplemented`` (501): S3's code for "functionality that is
    not implemented", not retried by the SDKs."""
    protocol = call.protocol if call else "json"
    what = f"{call.service_id} {call.operation}" if call else "this operation"
    if detail and _MOTO_NOT_IMPLEMENTED not in detail:
        code, status = _PART_NOT_MODELED
        said = " ".join(detail.split())
        message = f"the local cloud (moto {moto_version}) does not model a part of {what}: {said}"
    else:
        code, status = _NOT_MODELED.get(protocol, _NOT_MODELED["json"])
        message = f"the local cloud (moto {moto_version}) does not model {what}"
    LOG.info("%s", message)
    return _shaped(call, code, status, message)


def failure_answer(call: Call | None, detail: str, environ: dict[str, Any] | None = None) -> Answer:
    protocol = call.protocol if call else "json"
    code, status = _FAILURE.get(protocol, _FAILURE["json"])
    what = f"{call.service_id} {call.operation}" if call else (environ or {}).get("PATH_INFO", "a request")
    message = f"the local cloud (moto {moto_version}) failed in {what}: {detail}"
    LOG.warning("%s (answered %s, %s)", message, code, status)
    return _shaped(call, code, status, message)


def _shaped(call: Call | None, code: str, status: int, message: str) -> Answer:
    request_id = str(uuid.uuid4())
    protocol = call.protocol if call else "json"
    if protocol in ("query", "ec2"):
        xml = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        if protocol == "ec2":
            xml = (
                f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
            )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        return Answer(status, headers, xml.encode())
    if protocol == "rest-xml":
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        return Answer(status, headers, xml.encode())
    if protocol == "rest-json":
        content_type = "application/json"
        document: dict[str, str] = {"message": message}
    else:  # the JSON protocols, and any other (CBOR clients of CloudWatch fall back to its JSON)
        content_type = f"application/x-amz-json-{call.json_version if call else '1.0'}"
        document = {"__type": code, "message": message}
    headers = [
        ("Content-Type", content_type),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", request_id),
    ]
    return Answer(status, headers, json.dumps(document).encode())


def _call_of(service: str, environ: dict[str, Any]) -> Call | None:
    from moto.core.request import Request, determine_request_protocol
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    try:
        model = get_service_model(service)
    except Exception:  # noqa: BLE001 - botocore has no model of it: not an AWS service's request
        return None
    request = Request(environ)
    try:
        protocol = determine_request_protocol(model, request.content_type)
    except NotImplementedError:
        protocol = str(model.protocol)
    try:
        operation = str(get_service_router(service).match(request)[0].name)
    except Exception:  # noqa: BLE001 - no operation of the model matches: say what was asked
        target = request.headers.get("X-Amz-Target", "")
        action = request.values.get("Action", "") if protocol in ("query", "ec2") else ""
        operation = target.rsplit(".", 1)[-1] or action or f"{request.method} {request.path}"
    return Call(
        service=service,
        service_id=str(model.metadata.get("serviceId", service)),
        protocol=protocol,
        operation=operation,
        json_version=str(model.metadata.get("jsonVersion", "1.0")),
    )


@cache
def _botocore_names() -> dict[str, str]:
    """moto's backend name -> botocore's service name (moto's own naming rule, reversed)."""
    import botocore.session
    from moto.backends import ALT_SERVICE_NAMES

    names: dict[str, str] = {}
    for name in botocore.session.get_session().get_available_services():
        backend = name.replace("-", "")
        backend = ALT_SERVICE_NAMES.get(backend, backend)
        if backend not in names or backend == name.replace("-", ""):
            names[backend] = name
    return names


def _botocore_name(backend: str) -> str | None:
    return _botocore_names().get(backend)


def _buffered_form(environ: dict[str, Any]) -> bytes:
    """The body of a query-protocol request (its Action is there), kept to be read again."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _replayable(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _no_write(data: bytes) -> None:
    raise RuntimeError("moto's server wrote its answer through write(); ShapedErrors cannot hold it")
