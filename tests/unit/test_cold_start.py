"""A handler's import loads what its hot path uses, and the heavy rest on the path that needs it.

The cold-start rule (docs/capabilities.md#cold-start), checked by what a fresh
interpreter holds in ``sys.modules`` after importing a handler as the Lambda runtime
does, not by timing it: ``make bench`` prints the times (``bench/coldstart.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capabilities.conftest import api_request

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "functions" / "runtime" / "python"
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/handler.py"))
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "cold-start",
    "STATE_TABLE_NAME": "state",
    "PATH": "/usr/bin:/bin",
}
# Never loaded by a handler's import: the X-Ray SDK loads with the tracer, on the first traced
# call; powertools' built-in event models are not the contracts' business; the model gateway
# loads with the first model call; the OpenAPI document's models load when the review API's
# document is asked for, on no request's path.
NEVER_AT_IMPORT = (
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.parser.models",
    "aws_lambda_powertools.utilities.parser.envelopes",
    "aiflows_runtime.gateway",
    "aws_lambda_powertools.event_handler.openapi.models",
)


def after(code: str, capability: str) -> dict[str, object]:
    """What a fresh interpreter holds after importing ``capability``'s handler and running ``code``."""
    probe = (
        "import json, sys\n"
        f"sys.path[:0] = {[str(ROOT / 'functions'), str(RUNTIME)]!r}\n"
        f"import {capability}.handler as handler\n"
        "from aiflows_runtime.clients import client\n"
        "seen = {}\n"
        f"{code}\n"
        "seen['modules'] = sorted(sys.modules)\n"
        "seen['clients'] = client.cache_info().currsize\n"
        "print(json.dumps(seen))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        cwd=ROOT / "functions" / capability,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def loaded(modules: object, package: str) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m == package or m.startswith(package + ".")]


@pytest.mark.parametrize("capability", HANDLERS)
def test_a_handlers_import_loads_none_of_the_heavy_modules_it_defers(capability: str) -> None:
    # Given a fresh interpreter, as the Lambda runtime starts one
    # When it imports the function's handler
    seen = after("", capability)
    # Then none of the heavy modules its first invocation may need is loaded yet
    for package in NEVER_AT_IMPORT:
        assert not loaded(seen["modules"], package), f"{capability}'s import loaded {package}"
    # And no AWS client was made: each is made on first use (aiflows_runtime.clients)
    assert seen["clients"] == 0


@pytest.mark.parametrize("capability", HANDLERS)
def test_a_handlers_import_loads_no_boto3(capability: str) -> None:
    # boto3 loads with the first client (aiflows_runtime.clients), the first DynamoDB item
    # (state/items.py) or the first idempotent step (capability.idempotent_step), in the first invocation
    seen = after("", capability)
    assert not loaded(seen["modules"], "boto3"), f"{capability}'s import loaded boto3"


def test_the_review_api_loads_no_model_policy() -> None:
    # The review API calls no model: its import reads the state package (the reviews, the audit
    # trail) but not the routing policy or its manifest, which the circuit breaker's signature names
    seen = after("", "review_api")
    assert loaded(seen["modules"], "aiflows_runtime.state")
    assert not loaded(seen["modules"], "aiflows_runtime.policies")


def test_the_first_traced_call_builds_the_tracer_and_the_call_passes_through() -> None:
    # Given a handler whose import left the tracer unbuilt
    code = (
        "from aiflows_runtime import observability\n"
        "seen['before'] = 'aws_xray_sdk' in sys.modules\n"
        "@observability.trace_method\n"
        "def step(x, *, y):\n"
        "    return x + y\n"
        "seen['name'] = step.__name__\n"
        "seen['result'] = step(1, y=2)\n"
        "seen['after'] = 'aws_xray_sdk' in sys.modules\n"
    )
    # When a traced function is called
    seen = after(code, "retrieve")
    # Then the tracer (and the X-Ray SDK behind it) is built on that call, and the call is the function's
    assert seen["before"] is False and seen["after"] is True
    assert seen["name"] == "step" and seen["result"] == 3


def test_the_review_api_answers_requests_without_the_openapi_documents_models() -> None:
    # Given the review API, freshly imported, and two requests as API Gateway sends them
    requests = [api_request("GET", "/console/index.html"), api_request("GET", "/reviews/no%20such")]
    code = (
        "class Context:\n"
        "    function_name, memory_limit_in_mb, aws_request_id = 'review_api', 128, 'r-1'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:review_api'\n"
        f"requests = json.loads({json.dumps(requests)!r})\n"
        "seen['answers'] = [handler.lambda_handler(r, Context())['statusCode'] for r in requests]\n"
        "seen['models'] = 'aws_lambda_powertools.event_handler.openapi.models' in sys.modules\n"
        "seen['document'] = sorted(json.loads(handler.openapi_document())['paths'])\n"
    )
    # When it serves a console file and refuses a malformed review id, then is asked for its document
    seen = after(code, "review_api")
    # Then neither request loaded the document's models, and the document is built when asked
    assert seen["answers"] == [200, 422]
    assert seen["models"] is False
    assert "/reviews/{review_id}" in seen["document"]
