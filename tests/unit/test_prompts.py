"""Prompts as code: every capability's template loads, declares what it uses, and renders strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflows.registry import CapabilityInfo, capabilities
from aiflows_runtime import prompts

ASKING = [info for info in capabilities().values() if info.manifest.model]  # the capabilities that ask models


def test_some_capability_asks_a_model() -> None:
    assert ASKING, "no capability has a [model] route: these tests would check nothing"


@pytest.mark.parametrize("capability", ASKING, ids=lambda info: info.name)
def test_the_template_declares_exactly_the_variables_it_uses(capability: CapabilityInfo) -> None:
    template = capability.prompt()  # load() refuses a mismatch
    assert template is not None and template.variables
    assert template.prompt_id == f"{capability.name}/{capability.manifest.model.prompt}"


@pytest.mark.parametrize("capability", ASKING, ids=lambda info: info.name)
def test_the_template_names_its_answer_contract_and_asks_for_its_fields(capability: CapabilityInfo) -> None:
    template, model = capability.prompt(), capability.answer_model()
    assert template is not None and model is not None
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    for name in required:
        assert f'"{name}"' in template.template, f"{template.prompt_id} does not ask for {name}"


@pytest.mark.parametrize("capability", ASKING, ids=lambda info: info.name)
def test_rendering_fails_loudly_on_a_missing_variable(capability: CapabilityInfo) -> None:
    template = capability.prompt()
    values = {name: "x" for name in template.variables[1:]}
    with pytest.raises(prompts.PromptError, match=f"missing variables \\['{template.variables[0]}'\\]"):
        template.render(**values)


@pytest.mark.parametrize("capability", ASKING, ids=lambda info: info.name)
def test_rendering_refuses_an_undeclared_variable(capability: CapabilityInfo) -> None:
    template = capability.prompt()
    values = {name: "x" for name in template.variables}
    with pytest.raises(prompts.PromptError, match="undeclared variables \\['extra'\\]"):
        template.render(**values, extra="y")


@pytest.mark.parametrize("capability", ASKING, ids=lambda info: info.name)
def test_a_rendered_prompt_gives_back_its_variables(capability: CapabilityInfo) -> None:
    template = capability.prompt()
    values = {name: f"value of {name} with $dollars and {{braces}}" for name in template.variables}
    rendered = template.render(**values)
    assert "$" not in rendered.text.replace("$dollars", "")
    assert template.parse(rendered.text) == values


def test_classify_v1_renders_the_labels_and_the_document() -> None:
    rendered = (
        capabilities()["classify"].prompt().render(labels="invoice, other", title="T", text="Due: 5 EUR")
    )
    assert rendered.prompt_id == "classify/v1"
    assert "exactly one of these labels: invoice, other." in rendered.text
    assert "<document>\nDue: 5 EUR\n</document>" in rendered.text


def test_an_unknown_prompt_is_an_error() -> None:
    with pytest.raises(prompts.PromptError, match="no prompt 'classify/v9'"):
        prompts.load(capabilities()["classify"].folder, "classify", "v9")


def test_a_template_that_uses_an_undeclared_variable_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "v1.toml").write_text(
        'variables = ["a"]\noutput_model = "Answer"\ntemplate = "$a and $b"\n'
    )
    with pytest.raises(prompts.PromptError, match="declares \\['a'\\] but uses \\['a', 'b'\\]"):
        prompts.load(tmp_path, "probe", "v1")
