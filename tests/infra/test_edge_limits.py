"""Limits at the edge (docs/reviews.md#limits-at-the-edge): per-method throttles on the review
API's stage, and a request model for a decision's body, generated from the function's DecisionBody.

The model is checked with a draft 4 validator (``jsonschema``), as API Gateway validates: it
refuses an over-long field, too many edits, an unknown key (400 before the function runs), and
it never refuses a body the function would take.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aiflows.registry import capability_module
from infra.constructs.review_api import DECISION_MODEL, THROTTLES, decision_model_schema
from infra.draft4 import DRAFT4, draft4
from tests.infra.conftest import Synthesized
from tests.infra.test_review_api import methods

ROOT = Path(__file__).resolve().parents[2]
logic = capability_module("review_api", "logic")
VALIDATOR = jsonschema.Draft4Validator(decision_model_schema())


def accepted(body: Any) -> bool:
    return VALIDATOR.is_valid(body)


def edits(count: int, name_chars: int = 8, value_chars: int = 8) -> dict[str, str]:
    """``count`` edits, each name ``name_chars`` digits long and each value ``value_chars`` long."""
    return {f"{n:0{name_chars}d}": "x" * value_chars for n in range(count)}


def test_the_stage_throttles_each_method_stricter_on_decisions(synthesized: Synthesized) -> None:
    # Given the review API's stage
    (stage,) = synthesized.template.find_resources("AWS::ApiGateway::Stage").values()
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in stage["Properties"]["MethodSettings"]}
    # Then every method has the default, a decision and the feedback dataset their own, each logged
    expected = {
        ("/*", "*"): THROTTLES["/*/*"],
        ("/~1reviews~1{review_id}~1decision", "POST"): THROTTLES["/reviews/{review_id}/decision/POST"],
        ("/~1feedback.jsonl", "GET"): THROTTLES["/feedback.jsonl/GET"],
    }
    assert set(settings) == set(expected)
    for key, throttle in expected.items():
        assert (settings[key]["ThrottlingRateLimit"], settings[key]["ThrottlingBurstLimit"]) == (
            throttle.rate,
            throttle.burst,
        ), key
        assert settings[key]["LoggingLevel"] == "INFO", key
    decision, default = THROTTLES["/reviews/{review_id}/decision/POST"], THROTTLES["/*/*"]
    assert decision.rate < default.rate and decision.burst < default.burst


def test_a_decision_is_validated_against_the_model_of_decision_body(synthesized: Synthesized) -> None:
    # Given the decision route and the API's models
    template = synthesized.template.to_json()["Resources"]
    (model_id,) = synthesized.template.find_resources("AWS::ApiGateway::Model")
    model = template[model_id]["Properties"]
    # Then the model is the function's DecisionBody in draft 4, for JSON bodies
    assert model["Name"] == DECISION_MODEL and model["ContentType"] == "application/json"
    assert model["Schema"] == decision_model_schema()
    assert model["Schema"]["$schema"] == DRAFT4
    jsonschema.Draft4Validator.check_schema(model["Schema"])
    # And the route validates its body against it, and only that route has a model
    route = methods(synthesized)["POST /reviews/{review_id}/decision"]
    assert route["RequestModels"] == {"application/json": {"Ref": model_id}}
    validator = template[route["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["ValidateRequestBody"] is True
    others = [p for r, p in methods(synthesized).items() if not r.startswith("POST")]
    assert not [p for p in others if "RequestModels" in p]


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("too many edits", {"decision": "revise", "edits": edits(logic.EDITS + 1)}),
        (
            "an over-long field name",
            {"decision": "revise", "edits": {"f" * (logic.FIELD_NAME_CHARS + 1): "v"}},
        ),
        ("an empty field name", {"decision": "revise", "edits": {"": "v"}}),
        ("an over-long value", {"decision": "revise", "edits": {"f": "v" * (logic.VALUE_CHARS + 1)}}),
        ("an over-long reason", {"decision": "reject", "reason": "r" * 2001}),
        ("a value that is not text", {"decision": "revise", "edits": {"f": 1}}),
        ("an unknown decision", {"decision": "maybe"}),
        ("no decision", {"reason": "why"}),
        ("an unknown key", {"decision": "approve", "approved_by": "me"}),
        ("not an object", ["approve"]),
    ],
)
def test_the_model_refuses_an_oversized_or_malformed_body(why: str, body: Any) -> None:
    # Given a body API Gateway would see; then its validator refuses it (400) before the function runs
    assert not accepted(body), why
    # And the function refuses it too: the edge adds no rule of its own
    with pytest.raises(ValueError):
        logic.DecisionBody.model_validate(body)


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("an approval", {"decision": "approve"}),
        ("a rejection with its reason", {"decision": "reject", "reason": "r" * 2000}),
        ("the most edits, short", {"decision": "revise", "edits": edits(logic.EDITS)}),
        ("the longest name and value", {"decision": "revise", "edits": {"n" * 128: "v" * 2000}}),
        ("a name beyond the BMP", {"decision": "revise", "edits": {"\U0001f600" * 128: "v"}}),
        ("a name with a line break", {"decision": "revise", "edits": {"a\nb": "v"}}),
    ],
)
def test_the_model_accepts_what_the_function_accepts(why: str, body: Any) -> None:
    logic.DecisionBody.model_validate(body)
    assert accepted(body), why


def test_the_model_leaves_the_rules_draft_4_cannot_say_to_the_function() -> None:
    # Given bodies within every bound, but breaking a rule of the function's (a validator of its own)
    for body in (
        {"decision": "reject"},  # a rejection needs a reason
        {"decision": "revise"},  # a revision needs an edit
        {"decision": "approve", "edits": {"f": "v"}},  # only a revision carries edits
        {"decision": "revise", "edits": edits(logic.EDITS, 128, 2000)},  # over 16 KB of JSON
    ):
        # Then API Gateway passes them, and the function refuses them (422, naming the problem)
        assert accepted(body), body
        with pytest.raises(ValueError):
            logic.DecisionBody.model_validate(body)


def test_draft4_translates_what_draft_4_can_say_and_drops_the_rest() -> None:
    schema = {
        "$defs": {"Kind": {"const": "a", "examples": ["a"]}},
        "properties": {
            "kind": {"$ref": "#/$defs/Kind"},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "tags": {"type": "array", "contains": {"const": "x"}, "items": {"type": "string"}},
            "map": {"type": "object", "propertyNames": {"maxLength": 3}},
            "other": {
                "type": "object",
                "propertyNames": {"pattern": "^a"},
                "additionalProperties": {"type": "integer"},
            },
        },
        "if": {"required": ["kind"]},
        "then": {"required": ["score"]},
    }
    translated = draft4(schema)
    assert translated == {
        "$schema": DRAFT4,
        "definitions": {"Kind": {"enum": ["a"]}},
        "properties": {
            "kind": {"$ref": "#/definitions/Kind"},
            "score": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 1,
                "exclusiveMaximum": True,
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "map": {
                "type": "object",
                "patternProperties": {"^[\\s\\S]{0,3}$": {}},
                "additionalProperties": False,
            },
            "other": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
            },  # the name pattern: dropped
        },
    }
    jsonschema.Draft4Validator.check_schema(translated)


def limits_section() -> str:
    text = (ROOT / "docs" / "reviews.md").read_text()
    match = re.search(
        r"^### Limits at the edge\n(.+?)(?=^#{1,3} )", text + "\n# ", flags=re.MULTILINE | re.DOTALL
    )
    assert match, "docs/reviews.md: add the subsection ### Limits at the edge"
    return match.group(1)


def test_the_docs_state_the_throttles_the_bounds_and_api_gateways_own_limit() -> None:
    # Given docs/reviews.md's "Limits at the edge"
    section = limits_section()
    # Then it names each method's throttle, as the stage has it
    for path, throttle in THROTTLES.items():
        method = path.rsplit("/", 1)[-1]
        route = "every other method" if path == "/*/*" else f"{method} {path.rsplit('/', 1)[0]}"
        row = next((line for line in section.splitlines() if route in line), None)
        assert row and f"| {throttle.rate} |" in row and f"| {throttle.burst} |" in row, (route, row)
    # And the body's bounds, the characters they imply, and API Gateway's 10 MB
    content = logic.EDITS * (logic.FIELD_NAME_CHARS + logic.VALUE_CHARS) + 2000
    figures = [f"{n:,}" for n in (logic.EDITS, logic.FIELD_NAME_CHARS, logic.VALUE_CHARS, content)]
    for figure in (*figures, "10 MB", "400", "413"):
        assert figure in section, figure
