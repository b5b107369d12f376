"""docs/flows.md quotes what `python -m infra.pricing` prints, its requests measured on this code."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflows.authoring import generated_part
from infra import pricing

FLOWS_DOC = Path(__file__).resolve().parents[2] / "docs" / "flows.md"


@pytest.fixture(scope="module")
def measured() -> pricing.Measured:
    """The requests of each model-calling capability, measured against the local cloud (some seconds)."""
    return pricing.measure()


def test_docs_flows_md_quotes_what_infra_pricing_prints(measured: pricing.Measured) -> None:
    assert measured, "bench.requests measured no capability"

    # When the bill is printed, Then docs/flows.md quotes it exactly
    printed = pricing.report(measured=measured)
    quoted = generated_part(FLOWS_DOC.read_text(), pricing.DOCS_PART)
    assert quoted is not None, f"docs/flows.md has no <!-- aiflows:{pricing.DOCS_PART} --> part"
    assert quoted == printed, (
        "docs/flows.md's cost table is not what `.venv/bin/python -m infra.pricing` prints: "
        "run `.venv/bin/python -m infra.pricing --write-docs`"
    )


def test_a_cached_run_of_a_cacheable_route_asks_no_model_and_an_uncached_one_asks_once(
    measured: pricing.Measured,
) -> None:
    from bench.requests import model_capabilities

    for info in model_capabilities():
        assert info.manifest.model is not None
        assert measured[info.name, "uncached"].model_calls == 1
        assert measured[info.name, "cached"].model_calls == (0 if info.manifest.model.cacheable else 1)
