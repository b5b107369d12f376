"""Models per region: the id routing.toml gives each routed model in a region, what the gateway sends, and
what the local model answers (docs/capabilities.md#models-per-region)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from aiflows.registry import capabilities
from aiflows_runtime.gateway import ModelGateway, RunContext
from aiflows_runtime.manifest import ModelRoute
from aiflows_runtime.policies import RoutingPolicy, routing_policy
from aiflows_runtime.state import CircuitBreaker
from aiflows_runtime.state.memory import MemoryBreakerStore, MemoryCache, MemoryLedger
from infra.regions import SUPPORTED_REGIONS
from localcloud.model import LocalModel, ModelFault

POLICY = routing_policy()
CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA_LITE = "amazon.nova-lite-v1:0"
ROUTES = {info.name: info for info in capabilities().values() if info.manifest.model is not None}
US = ("us-east-1", "us-east-2", "us-west-2")


def policy_with(model: str, **entry: Any) -> dict[str, Any]:
    """The routing policy's data with one model's entry replaced."""
    data = json.loads(POLICY.model_dump_json())
    data["models"][model] = {"input_per_1k": 0.001, "output_per_1k": 0.002, **entry}
    return data


def test_claude_is_called_through_its_us_profile_in_every_us_region_and_nowhere_else() -> None:
    # Given Claude 3.5 Haiku, served on demand only through its cross-region inference profile
    for region in US:
        called = POLICY.invocation(CLAUDE, region)
        # Then a call from a US region takes the profile's id, and may run in each US region it lists
        assert called is not None
        assert called.model_id == f"us.{CLAUDE}" and called.geography == "us"
        assert called.destinations == US
    # And no other supported region can call it at all
    assert [r for r in SUPPORTED_REGIONS if POLICY.invocation(CLAUDE, r) is not None] == sorted(US)


def test_nova_is_called_by_its_own_id_in_us_east_1_and_through_a_profile_elsewhere() -> None:
    in_region = POLICY.invocation(NOVA_LITE, "us-east-1")
    assert in_region is not None
    assert (in_region.model_id, in_region.geography, in_region.destinations) == (
        NOVA_LITE,
        None,
        ("us-east-1",),
    )
    for region, geography in [("us-west-2", "us"), ("eu-west-1", "eu"), ("ap-southeast-2", "apac")]:
        called = POLICY.invocation(NOVA_LITE, region)
        assert called is not None and called.model_id == f"{geography}.{NOVA_LITE}"
        assert region in called.destinations
    assert POLICY.invocation(NOVA_LITE, "sa-east-1") is None


def test_every_region_a_profile_routes_to_is_a_region_the_stack_supports() -> None:
    # The grants name the model in each destination: a typo there would be a grant on nothing
    for model, entry in POLICY.models.items():
        for geography, profile in entry.profiles.items():
            assert set(profile.sources) <= set(SUPPORTED_REGIONS), (model, geography)
            assert set(profile.destinations) <= set(SUPPORTED_REGIONS), (model, geography)


def test_a_profile_id_names_its_model_and_nothing_else_does() -> None:
    assert POLICY.model_of(f"us.{CLAUDE}") == CLAUDE
    assert POLICY.model_of(CLAUDE) == CLAUDE
    assert POLICY.model_of(f"eu.{CLAUDE}") is None  # no such profile in the policy
    assert POLICY.model_of("us.acme.unpriced-v1:0") is None
    assert POLICY.profile_of(f"eu.{CLAUDE}") == CLAUDE  # but it is a profile id all the same
    assert POLICY.profile_of(CLAUDE) is None


def test_a_route_that_names_a_profile_id_is_refused_with_the_model_id_to_write() -> None:
    with pytest.raises(ValidationError) as refused:
        ModelRoute(prompt="v1", primary=NOVA_LITE, fallbacks=(f"us.{CLAUDE}",), max_tokens=10, temperature=0)
    message = str(refused.value)
    assert f"fallbacks names 'us.{CLAUDE}', an inference profile id" in message
    assert "routing.toml does not price" in message and f"write '{CLAUDE}' instead" in message


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        (
            {
                "profiles": {
                    "us": {"sources": ["us-east-1"], "destinations": ["us-east-1"]},
                    "apac": {"sources": ["us-east-1"], "destinations": ["ap-south-1"]},
                }
            },
            "us-east-1 is already a source of profiles.apac",
        ),
        (
            {"profiles": {"global": {"sources": ["us-east-1"], "destinations": ["us-east-1"]}}},
            "a global profile",
        ),
        ({"in_region": ["Virginia"]}, "'Virginia' is not a region name"),
        ({}, "callable from no region"),
    ],
)
def test_a_model_entry_that_cannot_say_how_a_region_calls_it_fails_the_policy(
    entry: dict[str, Any], said: str
) -> None:
    with pytest.raises(ValidationError, match=said):
        RoutingPolicy.model_validate(policy_with("acme.model-v1:0", **entry))


def test_a_profile_priced_beside_its_model_fails_the_policy() -> None:
    data = policy_with(f"us.{CLAUDE}", in_region=["us-east-1"])
    with pytest.raises(ValidationError, match=rf"is the us inference profile of '{CLAUDE}'"):
        RoutingPolicy.model_validate(data)


# --- what the gateway sends: a real bedrock-runtime client, its requests checked by a Stubber ----------
def rendered(name: str) -> Any:
    template = ROUTES[name].prompt()
    assert template is not None
    return template.render(**{variable: f"the {variable}" for variable in template.variables})


def expected_request(name: str, route: ModelRoute, model_id: str, prompt: Any) -> dict[str, Any]:
    """The Converse request, written out: what Bedrock must receive for this route and id."""
    return {
        "modelId": model_id,
        "system": [{"text": prompt.system}],
        "messages": [{"role": "user", "content": [{"text": prompt.text}]}],
        "inferenceConfig": {"maxTokens": route.max_tokens, "temperature": route.temperature},
        "requestMetadata": {"capability": name, "prompt": prompt.prompt_id, "correlation_id": "run-r"},
    }


def answered(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 40, "outputTokens": 8, "totalTokens": 48},
        "metrics": {"latencyMs": 90},
    }


CASES = [
    (name, region)
    for name, info in ROUTES.items()
    for region in SUPPORTED_REGIONS
    if all(POLICY.invocation(m, region) is not None for m in info.route_models)
]


@pytest.mark.parametrize(("name", "region"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_each_route_sends_converse_the_id_its_region_needs(name: str, region: str) -> None:
    # Given a route's function in a region, and a bedrock-runtime client of that region
    route = ROUTES[name].manifest.model
    assert route is not None
    client = boto3.client("bedrock-runtime", region_name=region)
    gateway = ModelGateway(
        policy=POLICY,
        bedrock=client,
        breaker=CircuitBreaker(MemoryBreakerStore(), POLICY.breaker),
        cache=MemoryCache(POLICY.gateway.cache_ttl_seconds),
        ledger=MemoryLedger(),
        sleep=lambda seconds: None,
        remaining=lambda: 900.0,
        region=region,
    )
    prompt = rendered(name)
    *failing, answering = route.models
    with Stubber(client) as stub:
        # When every model but the last is throttled on each attempt, and the last answers
        for model in failing:
            for _ in range(POLICY.gateway.attempts_per_model):
                stub.add_client_error(
                    "converse",
                    service_error_code="ThrottlingException",
                    http_status_code=429,
                    expected_params=expected_request(name, route, gateway.model_id(model), prompt),
                )
        stub.add_response(
            "converse",
            answered('{"ok": true}'),
            expected_params=expected_request(name, route, gateway.model_id(answering), prompt),
        )
        answer = gateway.ask(name, route, prompt, RunContext("run-r", "test", "acme"), lambda text: text)
        stub.assert_no_pending_responses()
    # Then each model was called by the id routing.toml gives it in the region (Claude's profile in the
    # US, Nova's own id in us-east-1 and its geography's profile elsewhere), and the answer is the model's
    for model in route.models:
        called = POLICY.invocation(model, region)
        assert called is not None
        assert gateway.model_id(model) == called.model_id
        assert called.model_id == (
            model if region in POLICY.models[model].in_region else f"{called.geography}.{model}"
        )
        if model == CLAUDE:
            assert called.model_id == f"us.{CLAUDE}"
    assert answer.model_id == answering  # the ledger and the price name the model, not the profile
    assert answer.cost_usd == pytest.approx(POLICY.models[answering].cost(40, 8))


def test_a_gateway_refuses_a_route_whose_model_has_no_id_in_its_region() -> None:
    route = ROUTES["classify"].manifest.model
    assert route is not None and CLAUDE in route.models
    gateway = ModelGateway(
        policy=POLICY,
        bedrock=object(),
        breaker=CircuitBreaker(MemoryBreakerStore(), POLICY.breaker),
        cache=MemoryCache(POLICY.gateway.cache_ttl_seconds),
        ledger=MemoryLedger(),
        region="eu-west-1",
    )
    with pytest.raises(ValueError, match=rf"gives no id in eu-west-1: \['{CLAUDE}'\]"):
        gateway.ask("classify", route, rendered("classify"), RunContext("r", "t", "acme"), lambda t: t)


# --- the local model answers the same ids ----------------------------------------------------------------
def converse(model: LocalModel, model_id: str) -> dict[str, Any]:
    prompt = ROUTES["classify"].prompt()
    assert prompt is not None
    text = prompt.render(labels="invoice, contract", title="T", text="an invoice, payment due").text
    return model.converse(
        {
            "modelId": model_id,
            "system": [{"text": "s"}],
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 500},
            "requestMetadata": {"prompt": "classify/v1"},
        }
    )


def test_the_local_model_answers_a_profile_id_as_its_model() -> None:
    # Given a local model scripted for Claude by its model id
    model = LocalModel()
    model.script(CLAUDE, '{"label": "contract", "confidence": 1.0, "evidence": []}')
    # When it is called by Claude's US profile id, twice
    scripted = converse(model, f"us.{CLAUDE}")
    heuristic = converse(model, f"us.{CLAUDE}")
    # Then the script is the model's, the heuristic answers next, and both calls are the model's
    assert json.loads(scripted["output"]["message"]["content"][0]["text"])["label"] == "contract"
    assert json.loads(heuristic["output"]["message"]["content"][0]["text"])["label"] == "invoice"
    assert [c.outcome for c in model.calls_to(CLAUDE)] == ["scripted", "ok"]


def test_a_local_model_in_a_region_refuses_an_id_bedrock_refuses_there() -> None:
    model = LocalModel(region="us-east-1")
    # Claude's bare id in us-east-1 is refused, as Bedrock refuses on-demand calls it does not serve
    with pytest.raises(ModelFault) as refused:
        converse(model, CLAUDE)
    assert refused.value.code == "ValidationException" and "inference profile" in refused.value.message
    # the ids routing.toml gives in the region are answered
    for model_id in (f"us.{CLAUDE}", NOVA_LITE):
        assert converse(model, model_id)["stopReason"] == "end_turn"
    assert [c.model_id for c in model.calls] == [CLAUDE, NOVA_LITE]


def test_the_docs_table_of_ids_per_region_is_what_routing_toml_gives() -> None:
    # Given the table in docs/capabilities.md#models-per-region
    doc = (Path(__file__).resolve().parents[2] / "docs" / "capabilities.md").read_text()
    section = doc.split("## Models per region", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [line.strip("|").split("|") for line in lines]
    header, *models = [[cell.strip().strip("`") for cell in row] for row in rows]
    regions = [[r.strip() for r in cell.split(",")] for cell in header[1:]]
    # Then every model of the policy has a row, and each cell is the id each of its regions calls
    assert sorted(row[0] for row in models) == sorted(POLICY.models)
    for model, *cells in models:
        for cell, columns in zip(cells, regions, strict=True):
            for region in columns:
                called = POLICY.invocation(model, region)
                assert (called.model_id if called else "none") == cell, (model, region)


def test_a_broken_routing_policy_names_the_file_the_model_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a routing.toml whose model names a global profile, which the stack cannot grant
    from aiflows_runtime import policies

    text = (policies.HERE / "routing.toml").read_text()
    broken = text.replace("profiles.us]", "profiles.global]", 1)
    (tmp_path / "routing.toml").write_text(broken)
    monkeypatch.setattr(policies, "HERE", tmp_path)
    # When it loads, then it is refused as a manifest error (synth prints it), naming each part
    with pytest.raises(policies.PolicyError) as refused:
        policies.routing_policy.__wrapped__()
    message = str(refused.value)
    for words in [
        f"{tmp_path / 'routing.toml'} is not a valid routing policy",
        "amazon.nova-micro-v1:0",
        "profiles.global: not a geography of cross-region inference profiles",
        "docs/capabilities.md#models-per-region",
    ]:
        assert words in message, message
