"""X-Ray filter expressions, parsed and evaluated as "Using filter expressions" (X-Ray Developer Guide) says.

Each case quotes the guide's example or rule it checks; the evaluator runs against a small fake
trace, so these are plain unit tests (the local cloud's GetTraceSummaries is tested in
tests/localcloud/test_xray_api.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.xray_filters import (
    And,
    Compare,
    Edge,
    FilterError,
    Node,
    Not,
    NotModeled,
    Or,
    Service,
    Target,
    Value,
    evaluate,
    matches,
    parse,
)


@dataclass
class Fake:
    """A trace (or one service's segment): each keyword's values, its services and its edges."""

    known: dict[str, list[Value]] = field(default_factory=dict)
    annotations: dict[str, list[Value]] = field(default_factory=dict)
    segments: list[Fake] = field(default_factory=list)
    calls: list[tuple[Fake, Fake]] = field(default_factory=list)

    def values(self, keyword: str, key: str | None = None) -> list[Value]:
        if keyword == "annotation":
            return self.annotations.get(key or "", [])
        return self.known.get(keyword, [])

    def services(self) -> list[Fake]:
        return self.segments

    def edges(self) -> list[tuple[Fake, Fake]]:
        return self.calls


def service(name: str, kind: str, **known: list[Value]) -> Fake:
    return Fake({"name": [name], "type": [kind], **known})


API = service("api.example.com", "AWS::EC2::Instance", fault=[False], error=[False], root=[True])
LAMBDA_FN = service("random-name", "AWS::Lambda::Function", fault=[False], error=[True], root=[False])
LAMBDA = service("random-name", "AWS::Lambda", fault=[False], error=[False], root=[False])
TRACE = Fake(
    known={
        "ok": [True],
        "error": [False],
        "fault": [False],
        "throttle": [False],
        "partial": [False],
        "responsetime": [3.2],
        "duration": [6.5],
        "http.status": [200.0],
        "http.url": ["http://api.example.com/api/game/v2/42"],
        "http.method": ["POST"],
        "user": ["5M388M1E"],
    },
    annotations={"gameid": ["817DL6VO"], "age": [31], "internal": [False], "name": ["Ola", "Ada"]},
    segments=[API, LAMBDA_FN, LAMBDA],
    calls=[(API, LAMBDA_FN), (LAMBDA_FN, LAMBDA)],
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # "Boolean keywords": alone, negated with !, compared to true or false
        ("ok", True),
        ("!ok", False),
        ("ok = false", False),
        ("fault != true", True),
        # "Number keywords": standard equality and comparison operators
        ("responsetime > 5", False),
        ("duration >= 5 AND duration <= 8", True),
        ("http.status != 200", False),
        ("ok !partial duration <3", False),  # the guide's juxtaposed terms are ANDed
        ("ok !partial duration <7", True),
        # "String keywords": =, !=, CONTAINS, BEGINSWITH, ENDSWITH; values always in quotes
        ('http.url CONTAINS "/api/game/"', True),
        ('user CONTAINS ""', True),  # "To test if a field exists on a trace ... contains the empty string"
        ('http.method = "GET"', False),
        ('http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/"', True),
        ('http.url ENDSWITH "/42"', True),
        ("http.clientip", False),  # a keyword alone: true if it is set
        ("http.url AND responseTime > 2", True),  # the guide writes responseTime
        # "Complex keywords": annotation.key with its value's operators, set or not set
        ('annotation.gameid = "817DL6VO"', True),
        ("annotation.age > 29", True),
        ("annotation.age", True),
        ("!annotation.missing", True),
        ("annotation.internal", False),  # a boolean annotation alone evaluates to its value
        ("annotation.internal = false", True),
        ('annotation.name = "Ada"', True),  # one of the trace's values matches
        ('annotation.age = "31"', False),  # a number is not the string
        # service(), edge() and id()
        ('service("api.example.com") { fault }', False),
        ("service() { error }", True),
        ('service("random-name") { error }', True),
        ('service(id(name: "random-name", type: "AWS::Lambda")) { error }', False),
        ('service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }', True),
        ('service(id(type: "AWS::Lambda::Function")) { error }', True),
        ('service("api.example.com") { root = true and fault = false }', True),
        ('edge("api.example.com", "random-name") { error }', True),
        ('edge("random-name", "api.example.com")', False),
        ('http.url BEGINSWITH "http://api.example.com/" AND !service("api.example.com")', False),
        # AND binds before OR; parentheses group
        ("fault OR ok AND error", False),
        ("(fault OR ok) AND !error", True),
        ("fault or ok", True),  # the guide writes 'and' inside braces as well as AND
    ],
)
def test_each_documented_form_evaluates_as_the_guide_says(expression: str, expected: bool) -> None:
    assert matches(expression, TRACE) is expected


@pytest.mark.parametrize(
    ("expression", "problem", "position"),
    [
        ("annotation.x = ", "expected a value after '='", 16),
        ('http.url = "unclosed', "never closed", 12),
        ('responsetime > "5"', "responsetime is a number keyword", 16),
        ('http.url > "a"', "'>' does not apply to a string", 10),
        ("fault < true", "'<' does not apply to a boolean", 7),
        ("annotation.age CONTAINS 3", "'CONTAINS' does not apply to a number", 16),
        ("duration >= 5 AND", "expected a keyword", 18),
        ("(ok", "expected ')'", 4),
        ('colour = "red"', "'colour' is not a keyword", 1),
        ('service("a") { annotation.x = 1 }', "annotation keywords cannot be used in a service", 16),
        ('service("a") { service("b") }', "service() cannot be used in a service", 16),
        ('edge("a") { error }', "expected ','", 9),
        ('service(id(nam: "a"))', "id() has no field 'nam'", 12),
        ("ok ~ 3", "an unexpected character '~'", 4),
        ("", "an empty expression", 1),
        ('service("a") {}', "an empty filter", 15),
        ('ok "a"', "expected AND, OR or the end of the expression", 4),
    ],
)
def test_an_expression_that_does_not_parse_names_the_place(
    expression: str, problem: str, position: int
) -> None:
    with pytest.raises(FilterError) as raised:
        parse(expression)
    assert problem in str(raised.value)
    assert raised.value.position + 1 == position, str(raised.value)
    assert f"at position {position}" in str(raised.value)


def test_root_causes_and_groups_parse_as_x_rays_but_are_not_modeled() -> None:
    # "Example - select traces with a fault root cause that includes a service named "Auth""
    with pytest.raises(NotModeled, match="rootcause"):
        parse('rootcause.fault.service { name = "Auth" }')
    with pytest.raises(NotModeled, match="group"):
        parse('group.name = "high_response_time" AND user = "alice"')


def test_the_tree_of_a_compound_expression() -> None:
    assert parse('ok !partial annotation.Tenant = "acme" OR service(id(type: "T")) { fault }') == Or(
        And(And(Compare("ok"), Not(Compare("partial"))), Compare("annotation", "=", "acme", "Tenant")),
        Service(Target(type="T"), Compare("fault")),
    )


# --- properties --------------------------------------------------------------------------------

KEYS = st.sampled_from(["gameid", "age", "internal", "name", "missing", "Tenant_2"])
STRINGS = st.text(st.characters(blacklist_characters='"', blacklist_categories=("Cs",)), max_size=8)
NUMBERS = st.integers(-1000, 1000).map(float) | st.sampled_from([0.5, 2.25, 1e3])


def comparisons() -> st.SearchStrategy[Node]:
    boolean = st.builds(
        Compare,
        st.sampled_from(["ok", "error", "fault", "throttle", "partial"]),
        st.sampled_from(["=", "!="]),
        st.booleans(),
    ) | st.builds(Compare, st.sampled_from(["ok", "fault"]))
    number = st.builds(
        Compare,
        st.sampled_from(["responsetime", "duration", "http.status"]),
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        NUMBERS,
    )
    string = st.builds(
        Compare,
        st.sampled_from(["http.url", "http.method", "user"]),
        st.sampled_from(["=", "!=", "CONTAINS", "BEGINSWITH", "ENDSWITH"]),
        STRINGS,
    )
    annotation = st.builds(lambda key: Compare("annotation", key=key), KEYS) | st.builds(
        lambda key, value: Compare("annotation", "=", value, key), KEYS, STRINGS | NUMBERS | st.booleans()
    )
    return boolean | number | string | annotation


def targets() -> st.SearchStrategy[Target]:
    names = st.sampled_from(["api.example.com", "random-name", "other"])
    types = st.sampled_from(["AWS::Lambda", "AWS::Lambda::Function"])
    return st.builds(Target, st.none() | names, st.none() | types)


def service_filters() -> st.SearchStrategy[Node]:
    inner = st.builds(Compare, st.sampled_from(["fault", "error", "root"])) | st.builds(
        Compare, st.just("name"), st.just("="), st.sampled_from(["random-name", "x"])
    )
    return st.recursive(
        inner, lambda nodes: st.builds(And, nodes, nodes) | st.builds(Not, nodes), max_leaves=3
    )


def expressions() -> st.SearchStrategy[Node]:
    leaves = (
        comparisons()
        | st.builds(Service, targets(), st.none() | service_filters())
        | st.builds(Edge, targets(), targets(), st.none() | service_filters())
    )
    return st.recursive(
        leaves,
        lambda nodes: st.builds(And, nodes, nodes) | st.builds(Or, nodes, nodes) | st.builds(Not, nodes),
        max_leaves=8,
    )


def render_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return f'"{value}"'


def render_target(target: Target) -> str:
    if target.type is None and target.name is not None:
        return f'"{target.name}"'
    fields = [f'{k}: "{v}"' for k, v in (("name", target.name), ("type", target.type)) if v is not None]
    return f"id({', '.join(fields)})" if fields else ""


def render(node: Node) -> str:
    """The expression a person would write for a tree, every compound term in parentheses."""
    if isinstance(node, Or | And):
        word = "OR" if isinstance(node, Or) else "AND"
        return f"({render(node.left)}) {word} ({render(node.right)})"
    if isinstance(node, Not):
        return f"!({render(node.operand)})"
    if isinstance(node, Service | Edge):
        braces = f" {{ {render(node.filter)} }}" if node.filter is not None else ""
        if isinstance(node, Service):
            return f"service({render_target(node.target)}){braces}"
        return f"edge({render_target(node.source)}, {render_target(node.destination)}){braces}"
    keyword = f"annotation.{node.key}" if node.keyword == "annotation" else node.keyword
    if node.operator is None:
        return keyword
    assert node.value is not None
    return f"{keyword} {node.operator} {render_value(node.value)}"


def _edge_needs_both(node: Node) -> bool:
    """edge() names both ends: a tree with an empty edge target has no written form."""
    if isinstance(node, Or | And):
        return _edge_needs_both(node.left) and _edge_needs_both(node.right)
    if isinstance(node, Not):
        return _edge_needs_both(node.operand)
    if isinstance(node, Edge):
        return all(t.name is not None or t.type is not None for t in (node.source, node.destination))
    return True


@given(expressions())
def test_what_is_written_parses_back_to_the_same_tree(tree: Node) -> None:
    if not _edge_needs_both(tree):
        return
    assert parse(render(tree)) == tree


@given(expressions())
def test_not_and_or_evaluate_as_boolean_logic(tree: Node) -> None:
    value = evaluate(tree, TRACE)
    assert evaluate(Not(tree), TRACE) is (not value)
    assert evaluate(And(tree, Compare("ok")), TRACE) is value  # ok is true in the fake trace
    assert evaluate(Or(tree, Compare("fault")), TRACE) is value  # fault is false


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_with_its_place(text: str) -> None:
    try:
        parse(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)
    except NotModeled:
        pass


@given(expressions(), st.data())
def test_a_cut_expression_is_refused_at_or_before_the_cut(tree: Node, data: st.DataObject) -> None:
    text = render(tree)
    cut = data.draw(st.integers(0, len(text) - 1))
    try:
        parse(text[:cut])
    except FilterError as error:
        assert error.position <= cut
