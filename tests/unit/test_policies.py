"""The versioned policy files load into their models, and refuse what makes no sense."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiflows_runtime.policies import RoutingPolicy, action_policy, routing_policy


def test_the_routing_policy_routes_every_model_capability() -> None:
    policy = routing_policy()
    assert set(policy.capabilities) == {"classify", "extract", "summarize"}
    for route in policy.capabilities.values():
        assert route.models[0] == route.primary


def test_a_route_to_a_model_without_a_price_is_refused() -> None:
    data = routing_policy().model_dump()
    data["capabilities"]["classify"]["fallbacks"] = ["some.unpriced-model-v1:0"]
    with pytest.raises(ValidationError, match="without a price"):
        RoutingPolicy.model_validate(data)


def test_prices_are_per_thousand_tokens() -> None:
    price = routing_policy().models["amazon.nova-lite-v1:0"]
    assert price.cost(1000, 1000) == pytest.approx(price.input_per_1k + price.output_per_1k)


def test_the_action_allowlist_loads() -> None:
    policy = action_policy()
    assert "document.routed" in policy.put_event.detail_types
    assert "invoice" in policy.write_record.record_types
