"""Prompts as code: every template loads, declares what it uses, and renders strictly."""

from __future__ import annotations

import pytest

from aiflows_runtime import contracts, prompts
from aiflows_runtime.policies import routing_policy

ALL = prompts.available()


def test_there_is_a_template_for_every_routed_capability() -> None:
    routed = {route.prompt for route in routing_policy().capabilities.values()}
    assert routed <= set(ALL)


@pytest.mark.parametrize("prompt_id", ALL)
def test_the_template_declares_exactly_the_variables_it_uses(prompt_id: str) -> None:
    template = prompts.load(prompt_id)  # load() refuses a mismatch
    assert template.variables
    assert template.prompt_id == prompt_id


@pytest.mark.parametrize("prompt_id", ALL)
def test_the_template_names_an_output_contract_and_asks_for_its_fields(prompt_id: str) -> None:
    template = prompts.load(prompt_id)
    model = getattr(contracts, template.output_model)
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    for name in required:
        assert f'"{name}"' in template.template, f"{prompt_id} does not ask for {name}"


@pytest.mark.parametrize("prompt_id", ALL)
def test_rendering_fails_loudly_on_a_missing_variable(prompt_id: str) -> None:
    template = prompts.load(prompt_id)
    values = {name: "x" for name in template.variables[1:]}
    with pytest.raises(prompts.PromptError, match=f"missing variables \\['{template.variables[0]}'\\]"):
        template.render(**values)


@pytest.mark.parametrize("prompt_id", ALL)
def test_rendering_refuses_an_undeclared_variable(prompt_id: str) -> None:
    template = prompts.load(prompt_id)
    values = {name: "x" for name in template.variables}
    with pytest.raises(prompts.PromptError, match="undeclared variables \\['extra'\\]"):
        template.render(**values, extra="y")


@pytest.mark.parametrize("prompt_id", ALL)
def test_a_rendered_prompt_gives_back_its_variables(prompt_id: str) -> None:
    template = prompts.load(prompt_id)
    values = {name: f"value of {name} with $dollars and {{braces}}" for name in template.variables}
    rendered = template.render(**values)
    assert "$" not in rendered.text.replace("$dollars", "")
    assert template.parse(rendered.text) == values


def test_classify_v1_renders_the_labels_and_the_document() -> None:
    rendered = prompts.load("classify/v1").render(
        labels="invoice, other", title="T", text="Amount due: 5 EUR"
    )
    assert rendered.prompt_id == "classify/v1"
    assert "exactly one of these labels: invoice, other." in rendered.text
    assert "<document>\nAmount due: 5 EUR\n</document>" in rendered.text


def test_an_unknown_prompt_is_an_error() -> None:
    with pytest.raises(prompts.PromptError, match="no prompt 'classify/v9'"):
        prompts.load("classify/v9")


def test_a_template_that_uses_an_undeclared_variable_is_refused(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "v1.toml").write_text(
        'variables = ["a"]\noutput_model = "ClassifyAnswer"\ntemplate = "$a and $b"\n'
    )
    monkeypatch.setattr(prompts, "HERE", tmp_path)
    prompts.load.cache_clear()
    try:
        with pytest.raises(prompts.PromptError, match="declares \\['a'\\] but uses \\['a', 'b'\\]"):
            prompts.load("probe/v1")
    finally:
        prompts.load.cache_clear()
