"""Answers derived from an output contract: valid, deterministic, and grounded in the prompt's text."""

from __future__ import annotations

import datetime
import enum
import inspect
import json
import re
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from localcloud.answers import answer_from_contract

TEXT = (
    "Invoice INV-0042 from ACME Corp. Total: 1,250.00 EUR due 2024-03-05.\n"
    "The outage is high priority and billing is blocked. Please reply by email."
)
TEXTS = [
    TEXT,
    "",
    "   ",
    "One",
    "A complaint: the parcel arrived broken! Refund, please?",
    "Résumé — Jane Doe. Skills: Python, SQL, AWS. Ten years of experience.",
    "x" * 5000,
    " ".join(f"word{i}" for i in range(400)),
]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tone(enum.Enum):
    FORMAL = "formal"
    CASUAL = "casual"


class Inner(Contract):
    name: str = Field(min_length=1, max_length=20)
    score: float = Field(ge=0, le=1)


class Everything(Contract):
    """One field of each kind the local model has to answer."""

    title: str = Field(min_length=3, max_length=30)
    document_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    order: str = Field(pattern=r"^[A-Z]{3}-\d{4}$")
    count: int = Field(ge=2, le=9)
    step: int = Field(gt=0, multiple_of=5)
    confidence: float = Field(ge=0, le=1)
    ratio: float = Field(gt=0, lt=1)
    flag: bool
    mood: Literal["calm", "angry"]
    tone: Tone
    tags: list[str] = Field(min_length=1, max_length=3)
    short_words: list[Annotated[str, Field(max_length=4)]] = Field(max_length=2)
    unique: set[str] = Field(min_length=2)
    numbers: frozenset[int] = Field(min_length=3)
    pair: tuple[int, str]
    rest: tuple[str, ...]
    scores: dict[str, float]
    by_name: dict[str, Inner]
    pages: dict[int, str]
    inner: Inner
    maybe: Inner | None
    either: int | str
    anything: Any
    evidence: str
    quotes: list[str]
    created: datetime.date
    at: datetime.datetime
    ident: uuid.UUID
    note: str | None = None
    retries: int = 3


class Triage(Contract):
    priority: Literal["low", "medium", "high"]
    category: Literal["billing", "outage", "other"]
    confidence: float = Field(ge=0.0, le=1.0)


class AnsweredField(Contract):
    value: str
    evidence: str


class ExtractAnswer(Contract):
    fields: dict[str, AnsweredField]


class Quoted(Contract):
    evidence: str = Field(max_length=12)
    quote: list[str] = Field(min_length=2, max_length=2)
    spans: dict[str, str]
    excerpt: str | None = None


class Bounded(Contract):
    small: int = Field(ge=-5, le=-1)
    exclusive: int = Field(gt=10, lt=12)
    tiny: float = Field(gt=0, lt=0.001)
    quarter: float = Field(ge=1, le=2, multiple_of=0.25)
    low_only: float = Field(ge=1000)
    name: str = Field(min_length=25, max_length=30)
    code: str = Field(max_length=5)
    few: list[int] = Field(max_length=0)
    some: list[str] = Field(min_length=3, max_length=4)


class Tree(Contract):
    name: str
    children: list[Tree] = Field(default_factory=list)
    parent: Tree | None = None


class Cat(Contract):
    kind: Literal["cat"]
    lives: int = Field(ge=1, le=9)


class Dog(Contract):
    kind: Literal["dog"]
    good: bool


class Pets(Contract):
    pet: Cat | Dog = Field(discriminator="kind")
    others: list[Annotated[Cat | Dog, Field(discriminator="kind")]]


class Password(Contract):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")
    secret: str = Field(pattern=r"^(?=.*[!@#])(?=.*\d)[A-Za-z\d!@#]{12,}$")


class OptionalPassword(Contract):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")
    name: str
    secret: str = Field(default="", pattern=r"^(?=.*[!@#])(?=.*\d)[A-Za-z\d!@#]{12,}$")
    nullable: str | None = Field(pattern=r"^(?=.*[!@#])(?=.*\d)[A-Za-z\d!@#]{12,}$")


class ShortHash(Contract):
    digest: str = Field(max_length=10, pattern=r"^[0-9a-f]{64}$")


def valid(model: type[BaseModel], text: str) -> dict[str, Any]:
    """The answer, checked as the local model's caller reads it: from JSON text."""
    answer = answer_from_contract(model, text)
    model.model_validate(answer)
    model.model_validate_json(json.dumps(answer))
    return answer


@pytest.mark.parametrize("text", TEXTS)
def test_a_model_with_every_kind_of_field_validates(text: str) -> None:
    answer = valid(Everything, text)
    assert set(answer) == set(Everything.model_fields)  # the optional fields are filled too
    assert answer["maybe"] is not None  # X | None prefers X
    assert answer["mood"] == "calm" and answer["tone"] == "formal"  # no vote: the first value


def test_values_are_grounded_in_the_text() -> None:
    answer = valid(Everything, TEXT)
    assert answer["order"] == "INV-0042"  # a token of the text that matches the pattern
    assert answer["created"] == "2024-03-05"
    assert answer["title"] in TEXT
    assert set(answer["by_name"]) <= set(TEXT.lower().split()) | {"invoice", "inv", "acme"}


@pytest.mark.parametrize("model", [Everything, Triage, ExtractAnswer, Quoted, Bounded, Tree, Pets])
@pytest.mark.parametrize("text", TEXTS[:5])
def test_the_same_input_gives_the_same_answer(model: type[BaseModel], text: str) -> None:
    assert answer_from_contract(model, text) == answer_from_contract(model, text)


def test_different_texts_can_give_different_choices() -> None:
    answers = [answer_from_contract(Everything, text) for text in TEXTS]
    for name in ("confidence", "count", "flag", "sha256", "title"):
        assert len({json.dumps(answer[name]) for answer in answers}) > 1, name


@pytest.mark.parametrize(
    ("text", "priority", "category"),
    [
        ("HIGH impact outage; the outage is high priority, not low.", "high", "outage"),
        ("Billing question, medium urgency. billing again.", "medium", "billing"),
        ("A highway lowered the mediums: no whole word here.", "low", "billing"),
        ("low or high: a tie goes to the first", "low", "billing"),
        ("", "low", "billing"),
    ],
)
def test_a_literal_label_is_voted_for_by_the_words_of_the_text(
    text: str, priority: str, category: str
) -> None:
    answer = valid(Triage, text)
    assert (answer["priority"], answer["category"]) == (priority, category)
    assert 0.5 <= answer["confidence"] <= 0.9


@pytest.mark.parametrize("text", [t for t in TEXTS if t.strip()])
def test_evidence_is_an_exact_substring_of_the_text(text: str) -> None:
    answer = valid(Quoted, text)
    assert answer["evidence"] in text and 0 < len(answer["evidence"]) <= 12
    assert all(quote in text for quote in answer["quote"])
    assert all(span in text for span in answer["spans"].values())
    assert answer["excerpt"] in text
    for found in valid(ExtractAnswer, text)["fields"].values():
        assert found["evidence"] in text


@pytest.mark.parametrize("text", TEXTS)
def test_constraints_are_honoured(text: str) -> None:
    answer = valid(Bounded, text)
    assert -5 <= answer["small"] <= -1
    assert answer["exclusive"] == 11
    assert 0 < answer["tiny"] < 0.001
    assert 1 <= answer["quarter"] <= 2 and (answer["quarter"] * 4).is_integer()
    assert answer["low_only"] >= 1000
    assert 25 <= len(answer["name"]) <= 30
    assert len(answer["code"]) <= 5
    assert answer["few"] == []
    assert 3 <= len(answer["some"]) <= 4 and len(set(answer["some"])) == len(answer["some"])
    everything = valid(Everything, text)
    assert 0.5 <= everything["confidence"] <= 0.9
    assert 1 <= len(everything["tags"]) <= 3
    assert all(len(word) <= 4 for word in everything["short_words"])
    assert 3 <= len(everything["title"]) <= 30


def test_nested_models_and_dicts_of_models_work() -> None:
    answer = valid(ExtractAnswer, TEXT)
    [(key, found)] = answer["fields"].items()
    assert key == "invoice"  # keyed by a word of the text
    assert set(found) == {"value", "evidence"}
    assert valid(ExtractAnswer, "")["fields"].keys() == {"key"}
    tree = valid(Tree, TEXT)
    assert tree["children"][0]["children"] == []  # a recursive model nests once, then stops
    pets = valid(Pets, TEXT)
    assert pets["pet"]["kind"] == "cat" and pets["others"][0]["kind"] == "cat"


@pytest.mark.parametrize("model", [Everything, Quoted, Bounded, Tree, Pets])
def test_models_that_forbid_extra_keys_get_none(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
    answer = valid(model, TEXT)  # nested models forbid extra keys too: validation would fail
    assert set(answer) <= set(model.model_fields)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Za-z0-9._:-]+$",
        r"^[0-9a-f]{64}$",
        r"^[A-Z]{2}\d{3}$",
        r"^(?:v\d+\.){2}\d+$",
        r"^[a-z]+(-[a-z]+)*$",
        r"^(foo|bar)_\d{2}$",
        r"^[\w.-]+\.(pdf|txt)$",
        r"^[^\s]{4}$",
        r"^\S+\s\S+$",
        r"[0-9]",
    ],
)
@pytest.mark.parametrize("text", ["", TEXT])
def test_simple_patterns_are_matched(pattern: str, text: str) -> None:
    model = create_model("Coded", __config__=ConfigDict(extra="forbid"), code=(str, Field(pattern=pattern)))
    assert re.search(pattern, valid(model, text)["code"])


def test_a_required_field_whose_pattern_cannot_be_satisfied_says_how_to_fix_it() -> None:
    with pytest.raises(ValueError, match=r"Password.*'secret'.*heuristic.*capability's folder"):
        answer_from_contract(Password, TEXT)
    with pytest.raises(ValueError, match=r"ShortHash.*'digest'.*heuristic"):
        answer_from_contract(ShortHash, TEXT)


def test_a_field_whose_pattern_cannot_be_satisfied_is_left_out_or_none_when_it_may_be() -> None:
    # left out when it has a default; None when it is nullable
    assert valid(OptionalPassword, TEXT) == {"name": "Invoice INV-0042 from", "nullable": None}


def test_every_contract_of_the_runtime_gets_a_valid_answer() -> None:
    from aiflows_runtime import contracts

    models = [
        value
        for value in vars(contracts).values()
        if inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == contracts.__name__
    ]
    assert models
    for model in models:
        valid(model, TEXT)
