"""The versioned policy files load into their models, and refuse what makes no sense."""

from __future__ import annotations

import pytest

from aiflows.flows import flows
from aiflows_runtime.policies import ActionPolicy, routing_policy


def test_prices_are_per_thousand_tokens() -> None:
    price = routing_policy().models["amazon.nova-lite-v1:0"]
    assert price.cost(1000, 1000) == pytest.approx(price.input_per_1k + price.output_per_1k)


def test_the_action_allowlist_loads() -> None:
    policy = ActionPolicy.model_validate(flows()["document_intake"].action_policy())
    assert "document.routed" in policy.put_event.detail_types
    assert "invoice" in policy.write_record.record_types
