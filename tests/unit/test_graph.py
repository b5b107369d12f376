"""The flow graph: every state and every way between them, in Mermaid and in SVG."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiflows.graph import Edge, edges, mermaid, svg, write

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted((ROOT / "statemachines").glob("**/*.asl.json"))
SVG = "{http://www.w3.org/2000/svg}"
MERMAID_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# A Choice (a plain rule and an And), a Catch, a state only a catch reaches, a Parallel of two
# branches and a Map.
SMALL: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.ok", "BooleanEquals": True, "Next": "Work"},
                {
                    "And": [
                        {"Variable": "$.a", "IsPresent": True},
                        {"Variable": "$.b", "NumericGreaterThan": 1},
                    ],
                    "Next": "Reject",
                },
            ],
            "Default": "Reject",
        },
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Catch": [{"ErrorEquals": ["Boom", "States.Timeout"], "Next": "Cleanup"}],
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Left",
                    "States": {
                        "Left": {"Type": "Pass", "Next": "LeftDone"},
                        "LeftDone": {"Type": "Succeed"},
                    },
                },
                {"StartAt": "Right", "States": {"Right": {"Type": "Wait", "Seconds": 1, "End": True}}},
            ],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "One",
                "States": {
                    "One": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
                },
            },
            "Next": "Done",
        },
        "Cleanup": {"Type": "Pass", "Next": "Reject"},
        "Done": {"Type": "Succeed"},
        "Reject": {"Type": "Fail", "Error": "Rejected"},
    },
}

SMALL_EDGES = [
    Edge("Check", "Work", "$.ok == true", "choice"),
    Edge("Check", "Reject", "rule 2", "choice"),
    Edge("Check", "Reject", "default", "default"),
    Edge("Work", "Both", "", "next"),
    Edge("Work", "Cleanup", "Boom, States.Timeout", "catch"),
    Edge("Both", "Each", "", "next"),
    Edge("Both/Left", "Both/LeftDone", "", "next"),
    Edge("Each", "Done", "", "next"),
    Edge("Cleanup", "Reject", "", "next"),
]

TRICKY_NAME = 'Say "hi" <&> #1 | ok'


# ------------------------------------------------------------ reading the definitions, independently


def walk(definition: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any], str]]:
    """(full name, state, its scope's prefix) for every state, those in branches and processors too."""
    for name, state in definition["States"].items():
        yield prefix + name, state, prefix
        inner = [*state.get("Branches", []), state.get("ItemProcessor") or state.get("Iterator")]
        for child in filter(None, inner):
            yield from walk(child, f"{prefix}{name}/")


def expected_links(definition: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, is a catch) for every Next, Choice rule, Default and Catch."""
    links = []
    for name, state, prefix in walk(definition):
        targets = [
            state.get("Next"),
            *(rule["Next"] for rule in state.get("Choices", [])),
            state.get("Default"),
        ]
        links += [(name, prefix + target, False) for target in targets if target]
        links += [(name, prefix + catcher["Next"], True) for catcher in state.get("Catch", [])]
    return sorted(links)


def undefined(definition: dict[str, Any]) -> list[str]:
    """The targets no state defines: an authored flow names states its weave adds at synth."""
    names = {name for name, _, _ in walk(definition)}
    return sorted({target for _, target, _ in expected_links(definition)} - names)


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


# ------------------------------------------------------------ reading the drawings

NODE = re.compile(r'^\s*(\w+)(\[\[|\(\[|\{\{|\[|\(|\{)"(.*)"(\]\]|\]\)|\}\}|\]|\)|\})$')
SUBGRAPH = re.compile(r'^\s*subgraph (\w+) \["(.*)"\]$')
LINK = re.compile(r'^\s*(\w+) (-->|-\.->)(?:\|"(.*)"\|)? (\w+)$')


def unescape(text: str) -> str:
    """What Mermaid shows for its entity codes: ``#quot;`` is ``&quot;``, ``#35;`` is ``&#35;``."""
    return re.sub(r"#(\w+);", lambda m: html.unescape(f"&#{m[1]};" if m[1].isdigit() else f"&{m[1]};"), text)


@dataclass
class MermaidNode:
    path: str  # the state's full name, from the subgraphs around it
    opening: str  # the shape's opening bracket, or "subgraph"
    type: str


def read_mermaid(text: str) -> tuple[dict[str, MermaidNode], list[tuple[str, str, str, str | None]]]:
    """The declared nodes by id (a subgraph's opening is "subgraph"), and the links.

    A link is (source id, arrow, target id, label or None).
    """
    nodes: dict[str, MermaidNode] = {}
    links = []
    within: list[str] = []
    for line in text.splitlines():
        if found := SUBGRAPH.match(line):
            id_, label, opening = found[1], found[2], "subgraph"
        elif found := NODE.match(line):
            id_, label, opening = found[1], found[3], found[2]
        else:
            if line.strip() == "end":
                within.pop()
            elif found := LINK.match(line):
                links.append((found[1], found[2], found[4], found[3]))
            continue
        assert id_ not in nodes, f"{id_} declared twice"
        assert '"' not in label, f"a raw quote in the label of {id_}"
        name, type_ = (unescape(part) for part in label.split("<br/>"))
        nodes[id_] = MermaidNode("/".join([*within, name]), opening, type_)
        if opening == "subgraph":
            within.append(name)
    assert not within, "a subgraph is not closed"
    return nodes, links


def state_groups(document: str) -> dict[str, ET.Element]:
    root = ET.fromstring(document)
    groups = [g for g in root.iter(f"{SVG}g") if "state" in g.get("class", "").split()]
    by_name = {g.get("data-state", ""): g for g in groups}
    assert len(by_name) == len(groups), "two boxes for one state"
    return by_name


def box(group: ET.Element) -> tuple[float, float, float, float]:
    """x, y, width, height of a state's shape (a rect, or the polygon of a Choice)."""
    rect = group.find(f"{SVG}rect")
    if rect is not None:
        return tuple(float(rect.get(key, "0")) for key in ("x", "y", "width", "height"))  # type: ignore[return-value]
    polygon = group.find(f"{SVG}polygon")
    assert polygon is not None
    points = [tuple(map(float, pair.split(","))) for pair in polygon.get("points", "").split()]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def svg_links(document: str) -> list[tuple[str, str, bool]]:
    root = ET.fromstring(document)
    paths = [p for p in root.iter(f"{SVG}path") if "edge" in p.get("class", "").split()]
    return sorted(
        (p.get("data-source", ""), p.get("data-target", ""), "catch" in p.get("class", "")) for p in paths
    )


# ------------------------------------------------------------ the repo's own flows


def test_the_flows_are_found() -> None:
    assert DEFINITIONS, "no statemachines/**/*.asl.json"


@pytest.fixture(params=DEFINITIONS, ids=lambda p: str(p.relative_to(ROOT / "statemachines")))
def definition(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_edges_are_every_next_choice_default_and_catch(definition: dict[str, Any]) -> None:
    found = edges(definition)
    assert sorted((e.source, e.target, e.kind == "catch") for e in found) == expected_links(definition)
    assert {e.kind for e in found} <= {"next", "choice", "default", "catch"}
    assert all(e.label for e in found if e.kind != "next")


def test_every_state_is_a_mermaid_node_with_a_valid_unique_id(definition: dict[str, Any]) -> None:
    nodes, _ = read_mermaid(mermaid(definition))
    assert all(MERMAID_ID.match(id_) for id_ in nodes)
    types = {name: state["Type"] for name, state, _ in walk(definition)}
    types |= dict.fromkeys(undefined(definition), "Missing")
    assert sorted(node.path for node in nodes.values()) == sorted(types)
    assert all(node.type == types[node.path] for node in nodes.values())


def test_every_edge_is_a_mermaid_link_and_catches_are_dashed(definition: dict[str, Any]) -> None:
    nodes, links = read_mermaid(mermaid(definition))
    drawn = sorted((nodes[a].path, nodes[b].path, arrow == "-.->") for a, arrow, b, _ in links)
    assert drawn == expected_links(definition)


def test_the_svg_parses_with_one_box_per_state(definition: dict[str, Any]) -> None:
    document = svg(definition)
    groups = state_groups(document)
    assert sorted(groups) == sorted(name for name, _, _ in walk(definition))
    missing = [
        g.get("data-state", "")
        for g in ET.fromstring(document).iter(f"{SVG}g")
        if "missing" in g.get("class", "")
    ]
    assert sorted(missing) == undefined(definition)
    for name, group in groups.items():
        texts = "".join(group.itertext())
        assert name.rsplit("/", 1)[-1] in texts
        assert group.get("data-type", "") in texts
        box(group)


def test_the_svg_draws_every_edge_with_an_arrow(definition: dict[str, Any]) -> None:
    document = svg(definition)
    assert svg_links(document) == expected_links(definition)
    root = ET.fromstring(document)
    for path in root.iter(f"{SVG}path"):
        if "edge" in path.get("class", "").split():
            assert path.get("marker-end", "").startswith("url(#arrow")
            assert ("stroke-dasharray" in path.attrib) == ("catch" in path.get("class", ""))


# ------------------------------------------------------------ edges


def test_a_small_flow_gives_exactly_its_edges() -> None:
    assert edges(SMALL) == SMALL_EDGES


def test_a_legacy_iterator_and_nested_subgraphs_are_named_by_their_path() -> None:
    definition = {
        "StartAt": "Outer",
        "States": {
            "Outer": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "Loop",
                        "States": {
                            "Loop": {
                                "Type": "Map",
                                "Iterator": {
                                    "StartAt": "A",
                                    "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}},
                                },
                                "End": True,
                            }
                        },
                    }
                ],
            }
        },
    }
    assert edges(definition) == [Edge("Outer/Loop/A", "Outer/Loop/B", "", "next")]
    nodes, _ = read_mermaid(mermaid(definition))
    assert sorted(node.path for node in nodes.values()) == [
        "Outer",
        "Outer/Loop",
        "Outer/Loop/A",
        "Outer/Loop/B",
    ]
    assert sorted(state_groups(svg(definition))) == ["Outer", "Outer/Loop", "Outer/Loop/A", "Outer/Loop/B"]


def choice_label(rule: dict[str, Any], index: int = 1) -> str:
    rules = [{"Variable": "$.other", "IsNull": True, "Next": "A"}] * (index - 1) + [{**rule, "Next": "A"}]
    definition = {
        "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": rules}, "A": {"Type": "Succeed"}},
    }
    return edges(definition)[index - 1].label


@pytest.mark.parametrize(
    ("rule", "label"),
    [
        ({"Variable": "$.x", "BooleanEquals": True}, "$.x == true"),
        ({"Variable": "$.s", "StringEquals": "reject"}, '$.s == "reject"'),
        ({"Variable": "$.n", "NumericLessThanEqualsPath": "$.max"}, "$.n <= $.max"),
        ({"Variable": "$.n", "NumericGreaterThan": 2.5}, "$.n > 2.5"),
        ({"Variable": "$.t", "TimestampLessThan": "2024-01-01T00:00:00Z"}, '$.t < "2024-01-01T00:00:00Z"'),
        ({"Variable": "$.s", "StringMatches": "log-*"}, '$.s matches "log-*"'),
        ({"Variable": "$.v", "IsPresent": False}, "$.v is not present"),
        ({"Variable": "$.v", "IsNull": True}, "$.v is null"),
        ({"Or": [{"Variable": "$.a", "IsNull": True}]}, "rule 1"),
        ({"Condition": "{% $states.input.ok %}"}, "$states.input.ok"),
    ],
)
def test_a_choice_rule_is_labelled_by_what_it_tests(rule: dict[str, Any], label: str) -> None:
    assert choice_label(rule) == label


def test_and_or_not_rules_are_numbered() -> None:
    assert choice_label({"Not": {"Variable": "$.a", "IsNull": True}}, index=3) == "rule 3"


def test_a_long_jsonata_condition_is_cut_to_40_characters() -> None:
    condition = "$states.input.count > 10 and $states.input.flag = true and $exists($states.input.x)"
    label = choice_label({"Condition": "{% " + condition + " %}"})
    assert len(label) == 40
    assert label == condition[:39] + "…"


# ------------------------------------------------------------ Mermaid


def test_mermaid_shapes_say_the_type() -> None:
    text = mermaid(SMALL)
    assert text.startswith("flowchart TD\n")
    nodes, _ = read_mermaid(text)
    shapes = {node.path: node.opening for node in nodes.values()}
    assert shapes == {
        "Check": "{",
        "Work": "[",
        "Both": "subgraph",
        "Both/Left": "(",
        "Both/LeftDone": "([",
        "Both/Right": "{{",
        "Each": "subgraph",
        "Each/One": "[",
        "Cleanup": "(",
        "Done": "([",
        "Reject": "[[",
    }


def test_mermaid_marks_failures_and_the_start_with_classes() -> None:
    text = mermaid(SMALL)
    nodes, _ = read_mermaid(text)
    ids = {node.path: id_ for id_, node in nodes.items()}
    assert re.search(r"^\s*classDef fail fill:#[0-9a-f]+,stroke:#dc2626", text, re.MULTILINE)
    assert re.search(r"^\s*classDef start ", text, re.MULTILINE)
    assert f"    class {ids['Reject']} fail\n" in text
    assert f"    class {ids['Check']} start\n" in text


def test_mermaid_labels_catches_and_choices_on_their_links() -> None:
    nodes, links = read_mermaid(mermaid(SMALL))
    named = {(nodes[a].path, nodes[b].path, arrow, label) for a, arrow, b, label in links}
    assert ("Work", "Cleanup", "-.->", "Boom, States.Timeout") in named
    assert ("Check", "Work", "-->", "$.ok == true") in named
    assert ("Work", "Both", "-->", None) in named


def test_mermaid_ids_stay_valid_and_unique_whatever_the_names() -> None:
    names = ["end", "1st step", "a b", "a_b", "a/b", "class", "Ünïcode", "x-y.z", "graph"]
    states: dict[str, Any] = {name: {"Type": "Pass", "End": True} for name in names}
    states["a"] = {
        "Type": "Parallel",
        "End": True,
        "Branches": [{"StartAt": "b", "States": {"b": {"Type": "Pass", "End": True}}}],
    }
    nodes, _ = read_mermaid(mermaid({"StartAt": "end", "States": states}))
    assert len(nodes) == len(names) + 2
    assert all(MERMAID_ID.match(id_) for id_ in nodes)
    assert not {id_.lower() for id_ in nodes} & {"end", "class", "graph", "subgraph"}
    # a state named "a/b" and b in Parallel a share a name, and still get a node each
    assert sorted(node.path for node in nodes.values()) == sorted([*names, "a", "a/b"])


def test_mermaid_escapes_quotes_and_markup_in_labels() -> None:
    definition = {
        "StartAt": TRICKY_NAME,
        "States": {
            TRICKY_NAME: {"Type": "Pass", "Next": "B"},
            "B": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "StringEquals": '"<x>"', "Next": TRICKY_NAME}],
                "Default": "C",
            },
            "C": {"Type": "Succeed"},
        },
    }
    text = mermaid(definition, title='The "flow" <1>')
    assert text.startswith('---\ntitle: "The \\"flow\\" <1>"\n---\nflowchart TD\n')
    assert "#quot;" in text and "#lt;#amp;#gt;" in text
    nodes, links = read_mermaid(text)
    assert TRICKY_NAME in {node.path for node in nodes.values()}
    labels = [label for *_, label in links if label and label != "default"]
    assert labels == ["$.a == #quot;\\#quot;#lt;x#gt;\\#quot;#quot;"]
    assert unescape(labels[0]) == '$.a == "\\"<x>\\""'


# ------------------------------------------------------------ SVG


def test_svg_layers_run_down_from_the_start() -> None:
    groups = state_groups(svg(SMALL))
    boxes = {name: box(group) for name, group in groups.items()}
    for edge in SMALL_EDGES:
        if edge.kind != "catch" and edge.source in ("Check", "Work", "Both", "Each"):
            above, below = boxes[edge.source], boxes[edge.target]
            assert above[1] + above[3] < below[1], edge
    # a state only a catch reaches comes below the state that catches; its Next may go back up
    assert boxes["Work"][1] + boxes["Work"][3] < boxes["Cleanup"][1]
    assert boxes["Reject"][1] < boxes["Cleanup"][1]


def test_svg_groups_the_states_of_a_parallel_and_a_map_in_their_parent() -> None:
    groups = state_groups(svg(SMALL))
    for parent, children in (("Both", ["Both/Left", "Both/LeftDone", "Both/Right"]), ("Each", ["Each/One"])):
        x, y, w, h = box(groups[parent])
        assert groups[parent].get("data-type", "?") in "".join(groups[parent].itertext())
        for child in children:
            cx, cy, cw, ch = box(groups[child])
            assert x < cx and cx + cw < x + w and y < cy and cy + ch < y + h, child
    # the states around a group stay out of it
    x, y, w, h = box(groups["Both"])
    for outside in ("Work", "Each", "Check"):
        ox, oy, ow, oh = box(groups[outside])
        assert oy + oh < y or oy > y + h or ox + ow < x or ox > x + w, outside


def test_svg_colours_each_type_of_state_its_own_way() -> None:
    groups = state_groups(svg(SMALL))
    fills: dict[str, str] = {}
    for group in groups.values():
        shape = group.find(f"{SVG}rect")
        shape = shape if shape is not None else group.find(f"{SVG}polygon")
        assert shape is not None
        fills.setdefault(group.get("data-type", ""), shape.get("fill", ""))
    assert set(fills) == {"Choice", "Task", "Parallel", "Pass", "Succeed", "Wait", "Map", "Fail"}
    assert len(set(fills.values())) == len(fills)


def test_svg_escapes_every_text() -> None:
    definition = {
        "StartAt": TRICKY_NAME,
        "States": {
            TRICKY_NAME: {
                "Type": "Task",
                "Resource": "x",
                "Comment": "a <b> & c",
                "Catch": [{"ErrorEquals": ["Err<&>"], "Next": "Bell\x07"}],
                "End": True,
            },
            "Bell\x07": {"Type": "Fail"},
        },
    }
    document = svg(definition, title="<flow> & 'co'")
    assert "<&>" not in document
    root = ET.fromstring(document)
    groups = state_groups(document)
    assert TRICKY_NAME in groups
    assert TRICKY_NAME in "".join(groups[TRICKY_NAME].itertext())
    assert "Err<&>" in "".join(root.itertext())
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text == "<flow> & 'co'"  # type: ignore[union-attr]


def test_svg_draws_loops_and_edges_back_up() -> None:
    definition = {
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Task", "Resource": "x", "Next": "Ready?"},
            "Ready?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ready", "BooleanEquals": True, "Next": "Done"}],
                "Default": "Pause",
            },
            "Pause": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
            "Done": {
                "Type": "Task",
                "Resource": "x",
                "Catch": [{"ErrorEquals": ["Again"], "Next": "Done"}],
                "End": True,
            },
        },
    }
    document = svg(definition)
    assert svg_links(document) == expected_links(definition)
    boxes = {name: box(group) for name, group in state_groups(document).items()}
    assert boxes["Poll"][1] < boxes["Ready?"][1] < boxes["Pause"][1]


def test_a_next_to_a_missing_state_is_drawn_but_is_not_a_state() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    assert edges(definition) == [Edge("A", "Nowhere", "", "next")]
    document = svg(definition)
    assert sorted(state_groups(document)) == ["A"]
    root = ET.fromstring(document)
    assert [g.get("data-state") for g in root.iter(f"{SVG}g") if "missing" in g.get("class", "")] == [
        "Nowhere"
    ]
    nodes, _ = read_mermaid(mermaid(definition))
    assert {node.path: node.type for node in nodes.values()} == {"A": "Pass", "Nowhere": "Missing"}


# ------------------------------------------------------------ files


def test_write_picks_the_format_by_the_suffix(tmp_path: Path) -> None:
    ET.fromstring(write(SMALL, tmp_path / "flow.svg").read_text(encoding="utf-8"))
    assert (tmp_path / "flow.mmd").exists() is False
    assert write(SMALL, tmp_path / "flow.mmd").read_text(encoding="utf-8") == mermaid(SMALL)
    markdown = write(SMALL, tmp_path / "flow.md", title="small").read_text(encoding="utf-8")
    assert markdown == f"```mermaid\n{mermaid(SMALL, 'small')}```\n"
    with pytest.raises(ValueError, match=r"\.svg, \.mmd or \.md"):
        write(SMALL, tmp_path / "flow.png")
