"""A flow drawn as a graph: the states of an Amazon States Language definition and the ways between them.

This is the flow graph the team points to in reviews and docs: Mermaid text for Markdown, or a
self-contained SVG. ``python -m aiflows flows graph <flow>`` prints it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

EdgeKind = Literal["next", "choice", "default", "catch", "end"]
"""How one state leads to another. ``edges`` never yields "end": End, Succeed and Fail lead nowhere."""

CONDITION_CHARS = 40


@dataclass(frozen=True)
class Edge:
    """One way from a state to the next; states inside a Parallel or a Map are named ``Parent/Child``."""

    source: str
    target: str
    label: str
    kind: EdgeKind


@dataclass
class _Scope:
    """The states of a definition, a Parallel branch or a Map processor."""

    prefix: str
    start: str
    nodes: list[_Node]


@dataclass(eq=False)  # compared and hashed by identity: a state "A/B" and B in Parallel A share a name
class _Node:
    name: str  # the full path, "Parent/Child" inside a subgraph
    label: str  # the state's own name
    type: str
    state: dict[str, Any]
    scopes: list[_Scope] = field(default_factory=list)
    missing: bool = False  # named by a Next, but not defined
    inner: bool = False  # in a Parallel branch or a Map processor

    @property
    def ends(self) -> bool:
        """The execution ends here (inside a branch, End only closes the branch)."""
        return not self.inner and (self.type == "Succeed" or self.state.get("End") is True)


# ---------------------------------------------------------------- the graph


def _read_scope(definition: dict[str, Any], prefix: str = "") -> _Scope:
    states: dict[str, Any] = definition.get("States") or {}
    start = definition.get("StartAt") or next(iter(states), "")
    nodes = []
    for name, state in states.items():
        node = _Node(f"{prefix}{name}", name, str(state.get("Type", "?")), state, inner=bool(prefix))
        children = list(state.get("Branches") or [])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            children.append(processor)
        node.scopes = [_read_scope(child, f"{node.name}/") for child in children]
        nodes.append(node)
    scope = _Scope(prefix, f"{prefix}{start}", nodes)
    known = {node.name for node in nodes}
    for edge in _scope_edges(scope):
        if edge.target not in known:  # a Next to a state the definition does not have
            known.add(edge.target)
            label = edge.target[len(prefix) :]
            scope.nodes.append(_Node(edge.target, label, "Missing", {}, missing=True, inner=bool(prefix)))
    return scope


def _state_edges(node: _Node, prefix: str) -> Iterator[Edge]:
    state = node.state
    if isinstance(state.get("Next"), str):
        yield Edge(node.name, prefix + state["Next"], "", "next")
    for index, rule in enumerate(state.get("Choices") or [], start=1):
        if isinstance(rule.get("Next"), str):
            yield Edge(node.name, prefix + rule["Next"], _rule_label(rule, index), "choice")
    if isinstance(state.get("Default"), str):
        yield Edge(node.name, prefix + state["Default"], "default", "default")
    for catcher in state.get("Catch") or []:
        if isinstance(catcher.get("Next"), str):
            errors = ", ".join(str(error) for error in catcher.get("ErrorEquals") or [])
            yield Edge(node.name, prefix + catcher["Next"], errors, "catch")


def _scope_edges(scope: _Scope) -> list[Edge]:
    return [edge for node in scope.nodes for edge in _state_edges(node, scope.prefix)]


def _walk(scope: _Scope) -> Iterator[_Node]:
    """Every node, each parent before its children."""
    for node in scope.nodes:
        yield node
        for child in node.scopes:
            yield from _walk(child)


_OPERATORS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_TYPE_TESTS = {
    "IsNull": "null",
    "IsPresent": "present",
    "IsNumeric": "numeric",
    "IsString": "a string",
    "IsBoolean": "a boolean",
    "IsTimestamp": "a timestamp",
}
_KINDS = ("String", "Numeric", "Boolean", "Timestamp")


def _rule_label(rule: dict[str, Any], index: int) -> str:
    """A short description of one Choice rule: ``$.x == true``; "rule N" for And, Or and Not."""
    if "Condition" in rule:  # JSONata
        condition = rule["Condition"]
        text = condition if isinstance(condition, str) else json.dumps(condition)
        text = text.strip()
        if text.startswith("{%") and text.endswith("%}"):
            text = text[2:-2].strip()
        return text if len(text) <= CONDITION_CHARS else text[: CONDITION_CHARS - 1] + "…"
    variable = rule.get("Variable")
    if any(key in rule for key in ("And", "Or", "Not")) or not isinstance(variable, str):
        return f"rule {index}"
    for key, value in rule.items():
        if key in _TYPE_TESTS:
            return f"{variable} is {'' if value else 'not '}{_TYPE_TESTS[key]}"
        kind = next((kind for kind in _KINDS if key.startswith(kind)), None)
        if kind is None:
            continue
        test = key[len(kind) :]
        by_path = test.endswith("Path")
        test = test.removesuffix("Path")
        operator = _OPERATORS.get(test)
        if operator is not None:
            shown = str(value) if by_path else json.dumps(value, ensure_ascii=False)
            return f"{variable} {operator} {shown}"
    return f"rule {index}"


def edges(definition: dict[str, Any]) -> list[Edge]:
    """Every Next, Choice rule, Default and Catch of the definition, Parallel and Map states included.

    A state's own edges come first, then those inside its branches or item processor.
    """
    return [edge for _, edge in _edges_by_scope(_read_scope(definition))]


def _edges_by_scope(scope: _Scope) -> Iterator[tuple[_Scope, Edge]]:
    for node in scope.nodes:
        for edge in _state_edges(node, scope.prefix):
            yield scope, edge
        for child in node.scopes:
            yield from _edges_by_scope(child)


# ---------------------------------------------------------------- Mermaid

_MERMAID_WORDS = {
    "end",
    "graph",
    "flowchart",
    "subgraph",
    "style",
    "class",
    "classdef",
    "linkstyle",
    "click",
    "call",
    "href",
    "default",
    "direction",
    "interpolate",
    "acctitle",
    "accdescr",
}
_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;"}
_MERMAID_SHAPES = {
    "Choice": ("{", "}"),
    "Fail": ("[[", "]]"),
    "Succeed": ("([", "])"),
    "Pass": ("(", ")"),
    "Wait": ("{{", "}}"),
}
_MERMAID_CLASSES = (
    "classDef fail fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    "classDef ends stroke:#16a34a,stroke-width:2px",
    "classDef missing fill:#fff,stroke:#9ca3af,stroke-dasharray:4 3",
    "classDef start stroke:#111827,stroke-width:4px",
)


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for the characters Mermaid reads."""
    text = " ".join(text.split())
    return "".join(_MERMAID_ENTITIES.get(char, char) for char in text)


def _mermaid_ids(nodes: list[_Node]) -> dict[_Node, str]:
    """A valid, unique Mermaid id for each node: other characters become ``_``, keywords get a ``_``."""
    ids: dict[_Node, str] = {}
    taken: set[str] = set()
    for node in nodes:
        name = node.name
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
        if base[0].isdigit():
            base = f"_{base}"
        if base.lower() in _MERMAID_WORDS:
            base = f"{base}_"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        ids[node] = candidate
    return ids


def mermaid(definition: dict[str, Any], title: str | None = None) -> str:
    """The flow as a Mermaid ``flowchart TD``; Parallel and Map states are subgraphs."""
    root = _read_scope(definition)
    nodes = list(_walk(root))
    ids = _mermaid_ids(nodes)
    lines = [] if title is None else ["---", f"title: {json.dumps(' '.join(title.split()))}", "---"]
    lines.append("flowchart TD")

    def declare(scope: _Scope, depth: int) -> None:
        indent = "    " * depth
        for node in scope.nodes:
            label = f"{_mermaid_text(node.label)}<br/>{_mermaid_text(node.type)}"
            if node.scopes:
                lines.append(f'{indent}subgraph {ids[node]} ["{label}"]')
                for child in node.scopes:
                    declare(child, depth + 1)
                lines.append(f"{indent}end")
            else:
                opening, closing = _MERMAID_SHAPES.get(node.type, ("[", "]"))
                lines.append(f'{indent}{ids[node]}{opening}"{label}"{closing}')

    declare(root, 1)
    for scope, edge in _edges_by_scope(root):
        local = {node.name: node for node in scope.nodes}
        arrow = "-.->" if edge.kind == "catch" else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {ids[local[edge.source]]} {arrow}{label} {ids[local[edge.target]]}")
    lines.extend(f"    {line}" for line in _MERMAID_CLASSES)
    classes = {
        "fail": [node for node in nodes if node.type == "Fail"],
        "ends": [node for node in nodes if node.ends],
        "missing": [node for node in nodes if node.missing],
        "start": [node for node in root.nodes if node.name == root.start],
    }
    for name, members in classes.items():
        if members:
            lines.append(f"    class {','.join(ids[node] for node in members)} {name}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- SVG layout

_FONT = "Helvetica, Arial, sans-serif"
_NAME_SIZE, _TYPE_SIZE, _LABEL_SIZE = 12, 10, 9
_LABEL_CHARS, _LABEL_LINE = 26, 11.0
_BOX_H, _MIN_W = 42.0, 110.0
_H_GAP, _DUMMY_GAP, _DUMMY_W = 28.0, 12.0, 8.0
_V_GAP = 56.0
_PAD, _HEADER, _LANE_GAP = 12.0, 30.0, 14.0
_MARGIN, _TITLE_H, _START_H = 20.0, 30.0, 26.0

# fill, stroke
_COLOURS = {
    "Task": ("#dbeafe", "#2563eb"),
    "Choice": ("#fef3c7", "#d97706"),
    "Parallel": ("#f5f3ff", "#7c3aed"),
    "Map": ("#ecfeff", "#0891b2"),
    "Pass": ("#f3f4f6", "#6b7280"),
    "Wait": ("#fce7f3", "#db2777"),
    "Succeed": ("#dcfce7", "#16a34a"),
    "Fail": ("#fee2e2", "#dc2626"),
    "Missing": ("#ffffff", "#9ca3af"),
}
_OTHER_COLOURS = ("#ffffff", "#374151")
_EDGE_COLOUR, _CATCH_COLOUR = "#374151", "#dc2626"

Point = tuple[float, float]
Rect = tuple[float, float, float, float]  # x, y, width, height


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """A rough width for text in a sans-serif font: no font metrics in the standard library."""
    return len(text) * size * (0.62 if bold else 0.56)


def _wrap(label: str) -> list[str]:
    """An edge label in lines of about ``_LABEL_CHARS``, broken at spaces."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= _LABEL_CHARS:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def _on_hop(start: Point, end: Point, t: float) -> Point:
    """A point along one hop of a downward edge (a cubic that leaves and arrives vertically)."""
    (x0, y0), (x1, y1) = start, end
    middle = (y0 + y1) / 2
    u = 1 - t
    return (
        x0 + (x1 - x0) * (3 * u * t * t + t**3),
        y0 * u**3 + middle * 3 * u * t + y1 * t**3,
    )


@dataclass
class _Box:
    """A state's place: top-left corner and size; a group's lanes are its branches' places."""

    node: _Node
    x: float
    y: float
    w: float
    h: float
    group: bool = False
    lanes: list[list[float]] = field(default_factory=list)  # [x, y, w, h] per branch


@dataclass
class _Route:
    """An edge's line: ``points`` joined hop by hop, or one cubic curve when ``curve``."""

    edge: Edge
    points: list[Point]
    label_at: Point
    curve: bool = False


@dataclass
class _Block:
    """A laid-out scope: everything in it, placed from (0, 0)."""

    width: float = 0.0
    height: float = 0.0
    boxes: list[_Box] = field(default_factory=list)
    routes: list[_Route] = field(default_factory=list)

    def shift(self, dx: float, dy: float) -> None:
        for box in self.boxes:
            box.x += dx
            box.y += dy
            for lane in box.lanes:
                lane[0] += dx
                lane[1] += dy
        for route in self.routes:
            route.points = [(x + dx, y + dy) for x, y in route.points]
            route.label_at = (route.label_at[0] + dx, route.label_at[1] + dy)


@dataclass
class _Walk:
    """A depth-first walk: the nodes as first met, in topological order, and the edges back it ignores."""

    met: list[str]
    order: list[str]
    back: set[tuple[str, str]]


def _dag_order(roots: list[str], successors: dict[str, list[str]]) -> _Walk:
    seen: dict[str, bool] = {}  # True while on the walk's stack
    met: list[str] = []
    finished: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in seen:
            continue
        seen[root] = True
        met.append(root)
        stack = [(root, iter(successors.get(root, [])))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen[child] = True
                    met.append(child)
                    stack.append((child, iter(successors.get(child, []))))
                    break
                if seen[child]:
                    back.add((node, child))
            else:
                seen[node] = False
                finished.append(node)
                stack.pop()
    return _Walk(met, finished[::-1], back)


def _layers(names: list[str], start: str, scope_edges: list[Edge]) -> dict[str, int]:
    """Each state's layer: its longest path from the start, over every edge but catches.

    States only a catch reaches come after the deepest state that leads to them.
    """
    normal: dict[str, list[str]] = {}
    every: dict[str, list[str]] = {}
    for edge in scope_edges:
        every.setdefault(edge.source, []).append(edge.target)
        if edge.kind != "catch":
            normal.setdefault(edge.source, []).append(edge.target)
    layer: dict[str, int] = {}
    for successors, roots in ((normal, [start] if start in names else []), (every, [start, *names])):
        walk = _dag_order([root for root in roots if root in names], successors)
        predecessors: dict[str, list[str]] = {}
        for source, targets in successors.items():
            for target in targets:
                if (source, target) not in walk.back:
                    predecessors.setdefault(target, []).append(source)
        for name in walk.order:
            if name not in layer:
                before = [layer[p] + 1 for p in predecessors.get(name, []) if p in layer]
                layer[name] = max(before, default=0)
    return layer


def _crossings(order: list[list[str]], segments: list[tuple[str, str]], layer: dict[str, int]) -> int:
    position = {name: index for row in order for index, name in enumerate(row)}
    total = 0
    by_layer: dict[int, list[tuple[int, int]]] = {}
    for source, target in segments:
        by_layer.setdefault(layer[source], []).append((position[source], position[target]))
    for pairs in by_layer.values():
        for i, (a1, b1) in enumerate(pairs):
            total += sum(1 for a2, b2 in pairs[i + 1 :] if (a1 - a2) * (b1 - b2) < 0)
    return total


def _order_rows(
    rows: list[list[str]], segments: list[tuple[str, str]], layer: dict[str, int]
) -> list[list[str]]:
    """Order each row by the mean position of its neighbours (barycenters), keeping the fewest crossings."""
    above: dict[str, list[str]] = {}
    below: dict[str, list[str]] = {}
    for source, target in segments:
        above.setdefault(target, []).append(source)
        below.setdefault(source, []).append(target)

    def sweep(order: list[list[str]], indices: range, neighbours: dict[str, list[str]]) -> list[list[str]]:
        order = [list(row) for row in order]
        for i in indices:
            position = {name: index for row in order for index, name in enumerate(row)}
            barycenter = {}
            for name in order[i]:
                near = neighbours.get(name, [])
                barycenter[name] = sum(position[n] for n in near) / len(near) if near else position[name]
            order[i].sort(key=barycenter.__getitem__)
        return order

    best = current = rows
    fewest = _crossings(rows, segments, layer)
    for _ in range(3):
        for indices, neighbours in ((range(1, len(rows)), above), (range(len(rows) - 2, -1, -1), below)):
            current = sweep(current, indices, neighbours)
            crossings = _crossings(current, segments, layer)
            if crossings < fewest:
                best, fewest = current, crossings
    return best


_DUMMY = "\0"  # starts the name of a point a long edge passes through: no state's name starts so


def _is_dummy(name: str) -> bool:
    return name.startswith(_DUMMY)


def _place_row(
    row: list[str], widths: dict[str, float], wanted: dict[str, float], xs: dict[str, float]
) -> None:
    """Centre the row's nodes where wanted, in order and without overlap, then even out the push."""
    placed: list[float] = []
    for index, name in enumerate(row):
        if index == 0:
            x = wanted.get(name, widths[name] / 2)
        else:
            previous = row[index - 1]
            gap = _DUMMY_GAP if _is_dummy(previous) or _is_dummy(name) else _H_GAP
            least = placed[-1] + widths[previous] / 2 + gap + widths[name] / 2
            x = max(wanted.get(name, least), least)
        placed.append(x)
    pushes = [x - wanted[name] for x, name in zip(placed, row, strict=True) if name in wanted]
    drift = sum(pushes) / len(pushes) if pushes else 0.0
    for x, name in zip(placed, row, strict=True):
        xs[name] = x - drift


def _leaf_size(node: _Node) -> tuple[float, float]:
    width = max(
        _MIN_W,
        _text_width(node.label, _NAME_SIZE, bold=True) + 24,
        _text_width(node.type, _TYPE_SIZE) + 24,
    )
    return width, _BOX_H


def _layout(scope: _Scope) -> _Block:
    """Lay a scope out in layers, its Parallel and Map states as groups holding their own layouts."""
    block = _Block()
    nodes = {node.name: node for node in scope.nodes}
    names = list(nodes)
    scope_edges = _scope_edges(scope)
    inner: dict[str, list[_Block]] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for node in scope.nodes:
        if node.scopes:
            lanes = inner[node.name] = [_layout(child) for child in node.scopes]
            header = _text_width(f"{node.label} {node.type}", _NAME_SIZE, bold=True) + 2 * _PAD
            lanes_width = sum(lane.width for lane in lanes) + _LANE_GAP * (len(lanes) - 1)
            sizes[node.name] = (
                max(header, lanes_width + 2 * _PAD),
                _HEADER + max(lane.height for lane in lanes) + _PAD,
            )
        else:
            sizes[node.name] = _leaf_size(node)

    layer = _layers(names, scope.start, scope_edges)

    # long edges pass through every layer between their ends on dummy nodes
    chains: dict[int, list[str]] = {}
    widths = {name: sizes[name][0] for name in names}
    for index, edge in enumerate(scope_edges):
        low, high = layer[edge.source], layer[edge.target]
        if high > low:
            dummies = [f"{_DUMMY}{index}:{n}" for n in range(low + 1, high)]
            for n, dummy in enumerate(dummies, start=low + 1):
                layer[dummy] = n
                widths[dummy] = _DUMMY_W
            chains[index] = [edge.source, *dummies, edge.target]
    segments = [(a, b) for chain in chains.values() for a, b in pairwise(chain)]

    every: dict[str, list[str]] = {}
    for edge in scope_edges:
        every.setdefault(edge.source, []).append(edge.target)
    # the first order of the rows: as a walk from the start meets the states
    met = _dag_order([name for name in (scope.start, *names) if name in nodes], every).met
    first_seen = {name: i for i, name in enumerate(met)}
    depth = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    for name in sorted(layer, key=lambda n: (first_seen.get(n, len(first_seen)), n)):
        rows[layer[name]].append(name)
    rows = _order_rows(rows, segments, layer)

    # x: each node under the mean of its neighbours above, then over those below, then above again
    above: dict[str, list[str]] = {}
    below: dict[str, list[str]] = {}
    for source, target in segments:
        above.setdefault(target, []).append(source)
        below.setdefault(source, []).append(target)
    xs: dict[str, float] = {}
    for neighbours, indices in (
        (above, range(depth)),
        (below, range(depth - 2, -1, -1)),
        (above, range(depth)),
    ):
        for i in indices:
            wanted: dict[str, float] = {}
            for name in rows[i]:
                near = neighbours.get(name, [])
                if near and all(n in xs for n in near):
                    wanted[name] = sum(xs[n] for n in near) / len(near)
                elif name in xs:
                    wanted[name] = xs[name]
            _place_row(rows[i], widths, wanted, xs)

    # y: rows as tall as their tallest node
    heights = [max((sizes[n][1] for n in row if n in sizes), default=0.0) for row in rows]
    tops: list[float] = []
    y = 0.0
    for height in heights:
        tops.append(y)
        y += height + _V_GAP

    boxes: dict[str, _Box] = {}
    for name in names:
        w, h = sizes[name]
        row = layer[name]
        box = _Box(nodes[name], xs[name] - w / 2, tops[row] + (heights[row] - h) / 2, w, h)
        boxes[name] = box
        block.boxes.append(box)
        if name in inner:
            box.group = True
            lanes = inner[name]
            lanes_width = sum(lane.width for lane in lanes) + _LANE_GAP * (len(lanes) - 1)
            x = box.x + (w - lanes_width) / 2
            for lane in lanes:
                lane.shift(x, box.y + _HEADER)
                if len(lanes) > 1:
                    box.lanes.append([x - 4, box.y + _HEADER - 4, lane.width + 8, lane.height + 8])
                block.boxes.extend(lane.boxes)
                block.routes.extend(lane.routes)
                x += lane.width + _LANE_GAP

    block.routes.extend(_routes(scope_edges, chains, boxes, xs, layer, tops, heights))
    _fit(block)
    return block


def _ports(count: int, box: _Box) -> list[float]:
    inset = min(22.0, box.w / 4)
    return [box.x + inset + (box.w - 2 * inset) * (k + 1) / (count + 1) for k in range(count)]


def _routes(
    scope_edges: list[Edge],
    chains: dict[int, list[str]],
    boxes: dict[str, _Box],
    xs: dict[str, float],
    layer: dict[str, int],
    tops: list[float],
    heights: list[float],
) -> list[_Route]:
    # spread the ends of the downward edges along the bottom and the top of each box
    leaving: dict[str, list[int]] = {}
    arriving: dict[str, list[int]] = {}
    for index, chain in chains.items():
        leaving.setdefault(chain[0], []).append(index)
        arriving.setdefault(chain[-1], []).append(index)
    out_x: dict[int, float] = {}
    in_x: dict[int, float] = {}
    for ends, chosen, neighbour in ((leaving, out_x, 1), (arriving, in_x, -2)):
        for name, indices in ends.items():
            indices.sort(key=lambda i: xs[chains[i][neighbour]])
            for i, x in zip(indices, _ports(len(indices), boxes[name]), strict=True):
                chosen[i] = x

    routes = []
    for index, edge in enumerate(scope_edges):
        source, target = boxes[edge.source], boxes[edge.target]
        if index in chains:
            points: list[Point] = [(out_x[index], source.y + source.h)]
            for dummy in chains[index][1:-1]:
                row = layer[dummy]
                points += [(xs[dummy], tops[row]), (xs[dummy], tops[row] + heights[row])]
            points.append((in_x[index], target.y))
            # labels sit low on the first hop, where the edges of a fan have spread apart
            routes.append(_Route(edge, points, _on_hop(points[0], points[1], 0.8)))
            continue
        if edge.source == edge.target:  # a loop on itself, out of the right side and back
            right = source.x + source.w
            curve = [
                (right, source.y + source.h * 0.3),
                (right + 44, source.y - 10),
                (right + 44, source.y + source.h + 10),
                (right, source.y + source.h * 0.7),
            ]
        # edges back or beside leave and arrive off-centre, clear of the downward ones
        elif layer[edge.source] == layer[edge.target]:  # beside: under the row
            sx, tx = source.x + source.w * 0.7, target.x + target.w * 0.7
            bottom_s, bottom_t = source.y + source.h, target.y + target.h
            curve = [(sx, bottom_s), (sx, bottom_s + 34), (tx, bottom_t + 34), (tx, bottom_t)]
        elif layer[edge.source] == layer[edge.target] + 1:  # back up one row: across the gap
            sx, tx = source.x + source.w * 0.7, target.x + target.w * 0.7
            curve = [
                (sx, source.y),
                (sx, source.y - 30),
                (tx, target.y + target.h + 30),
                (tx, target.y + target.h),
            ]
        else:  # back up further: around the right side
            sy, ty = source.y + source.h / 2, target.y + target.h / 2
            side = (
                max(source.x + source.w, target.x + target.w)
                + 30
                + 8 * (layer[edge.source] - layer[edge.target])
            )
            curve = [(source.x + source.w, sy), (side, sy), (side, ty), (target.x + target.w, ty)]
        middle = (
            sum(w * p[0] for w, p in zip((1, 3, 3, 1), curve, strict=True)) / 8,
            sum(w * p[1] for w, p in zip((1, 3, 3, 1), curve, strict=True)) / 8,
        )
        routes.append(_Route(edge, curve, middle, curve=True))
    return routes


def _fit(block: _Block) -> None:
    """Move everything to start at (0, 0) and measure it: boxes, lines and labels."""
    xs: list[float] = []
    ys: list[float] = []
    for box in block.boxes:
        xs += [box.x, box.x + box.w]
        ys += [box.y, box.y + box.h]
    for route in block.routes:
        xs += [x for x, _ in route.points]
        ys += [y for _, y in route.points]
        half = max((_text_width(line, _LABEL_SIZE) for line in _wrap(route.edge.label)), default=0) / 2
        xs += [route.label_at[0] - half, route.label_at[0] + half]
    if not xs:
        return
    block.shift(-min(xs), -min(ys))
    block.width, block.height = max(xs) - min(xs), max(ys) - min(ys)


# ---------------------------------------------------------------- SVG drawing

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(text: str) -> str:
    """Element text: escaped, and without the characters XML cannot hold."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _attr(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", " ".join(text.split())), {'"': "&quot;"})


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _path(route: _Route) -> str:
    (x, y), rest = route.points[0], route.points[1:]
    d = [f"M{_n(x)},{_n(y)}"]
    if route.curve:
        d.append("C" + " ".join(f"{_n(px)},{_n(py)}" for px, py in rest))
        return " ".join(d)
    for nx, ny in rest:
        if nx == x:
            d.append(f"L{_n(nx)},{_n(ny)}")
        else:  # leave and arrive vertically
            middle = (y + ny) / 2
            d.append(f"C{_n(x)},{_n(middle)} {_n(nx)},{_n(middle)} {_n(nx)},{_n(ny)}")
        x, y = nx, ny
    return " ".join(d)


def _shape(box: _Box, fill: str, stroke: str) -> str:
    width = 2.5 if box.node.ends else 1.5
    dash = ' stroke-dasharray="4 3"' if box.node.missing else ""
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}'
    if box.node.type == "Choice" and not box.group:
        x, y, w, h = box.x, box.y, box.w, box.h
        corners = [(x + h / 2, y), (x + w - h / 2, y), (x + w, y + h / 2)]
        corners += [(x + w - h / 2, y + h), (x + h / 2, y + h), (x, y + h / 2)]
        points = " ".join(f"{_n(px)},{_n(py)}" for px, py in corners)
        return f'<polygon points="{points}" {paint}/>'
    corner = {"Pass": 14, "Succeed": 21, "Fail": 2}.get(box.node.type, 10 if box.group else 5)
    return (
        f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.w)}" height="{_n(box.h)}" '
        f'rx="{corner}" {paint}/>'
    )


def _draw_box(box: _Box) -> list[str]:
    node = box.node
    fill, stroke = _COLOURS.get(node.type, _OTHER_COLOURS)
    role = "missing" if node.missing else "state"
    tip = f"{node.name} ({node.type})"
    if isinstance(node.state.get("Comment"), str):
        tip += f": {node.state['Comment']}"
    lines = [
        f'<g class="{role} {_attr(node.type.lower())}" data-state="{_attr(node.name)}" '
        f'data-type="{_attr(node.type)}">',
        f"<title>{_text(tip)}</title>",
        _shape(box, fill, stroke),
    ]
    for x, y, w, h in box.lanes:
        lines.append(
            f'<rect class="lane" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="6" '
            f'fill="none" stroke="{stroke}" stroke-opacity="0.5" stroke-dasharray="3 3"/>'
        )
    if box.group:
        lines.append(
            f'<text x="{_n(box.x + _PAD)}" y="{_n(box.y + 19)}" font-size="{_NAME_SIZE}">'
            f'<tspan font-weight="bold">{_text(node.label)}</tspan>'
            f'<tspan fill="#4b5563" font-size="{_TYPE_SIZE}"> {_text(node.type)}</tspan></text>'
        )
    else:
        centre, middle = box.x + box.w / 2, box.y + box.h / 2
        lines.append(
            f'<text x="{_n(centre)}" y="{_n(middle - 2)}" text-anchor="middle" '
            f'font-size="{_NAME_SIZE}" font-weight="bold">{_text(node.label)}</text>'
        )
        lines.append(
            f'<text x="{_n(centre)}" y="{_n(middle + 12)}" text-anchor="middle" '
            f'font-size="{_TYPE_SIZE}" fill="#4b5563">{_text(node.type)}</text>'
        )
    lines.append("</g>")
    return lines


def _overlap(a: Rect, b: Rect) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _place_labels(routes: list[_Route], boxes: list[_Box]) -> list[tuple[_Route, list[str], Point]]:
    """Each edge label where its edge put it, or moved up or down off the labels and states already there."""
    taken: list[Rect] = [(box.x, box.y, box.w, box.h) for box in boxes]
    placed = []
    for route in routes:
        text = _wrap(route.edge.label)
        if not text:
            continue
        width = max(_text_width(line, _LABEL_SIZE) for line in text) + 4
        height = len(text) * _LABEL_LINE
        x, y = route.label_at
        candidates = []
        for at in (y + step * 6 * sign for step in range(7) for sign in (1, -1)):
            spot = (x - width / 2, at - height / 2, width, height)
            candidates.append((any(_overlap(spot, other) > 0 for other in taken), abs(at - y), spot))
        _, _, spot = min(candidates)
        taken.append(spot)
        placed.append((route, text, (x, spot[1] + height / 2)))
    return placed


def svg(definition: dict[str, Any], title: str | None = None) -> str:
    """The flow as a self-contained SVG document: states in layers from the start, catches dashed."""
    root = _read_scope(definition)
    block = _layout(root)
    top = _MARGIN + (_TITLE_H if title else 0.0) + _START_H
    block.shift(_MARGIN, top)
    width = max(block.width, _text_width(title or "", 16, bold=True)) + 2 * _MARGIN
    height = top + block.height + _MARGIN

    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{_FONT}">',
    ]
    if title:
        lines.append(f"<title>{_text(title)}</title>")
    lines.append("<defs>")
    for marker, colour in (("arrow", _EDGE_COLOUR), ("arrow-catch", _CATCH_COLOUR)):
        lines.append(
            f'<marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>'
            "</marker>"
        )
    lines += ["</defs>", f'<rect width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>']
    if title:
        lines.append(
            f'<text x="{_n(_MARGIN)}" y="{_n(_MARGIN + 16)}" font-size="16" font-weight="bold">'
            f"{_text(title)}</text>"
        )

    groups = [box for box in block.boxes if box.group]
    leaves = [box for box in block.boxes if not box.group]
    for box in groups:  # behind everything else
        lines += _draw_box(box)
    lines.append('<g class="edges" fill="none">')
    for route in block.routes:
        catch = route.edge.kind == "catch"
        colour, marker = (_CATCH_COLOUR, "arrow-catch") if catch else (_EDGE_COLOUR, "arrow")
        dash = ' stroke-dasharray="5 4"' if catch else ""
        lines.append(
            f'<path class="edge {route.edge.kind}" data-source="{_attr(route.edge.source)}" '
            f'data-target="{_attr(route.edge.target)}" d="{_path(route)}" stroke="{colour}" '
            f'stroke-width="1.3"{dash} marker-end="url(#{marker})"/>'
        )
    lines.append("</g>")
    for box in leaves:
        lines += _draw_box(box)
    start = next((box for box in block.boxes if box.node in root.nodes and box.node.name == root.start), None)
    if start is not None:
        x, y = start.x + start.w / 2, start.y
        lines.append(
            f'<g class="start"><circle cx="{_n(x)}" cy="{_n(y - 20)}" r="5" fill="#111827"/>'
            f'<path d="M{_n(x)},{_n(y - 15)} L{_n(x)},{_n(y)}" stroke="#111827" stroke-width="1.5" '
            'marker-end="url(#arrow)"/></g>'
        )
    lines.append(f'<g class="edge-labels" font-size="{_LABEL_SIZE}" text-anchor="middle">')
    for route, text, (x, y) in _place_labels(block.routes, leaves):
        colour = _CATCH_COLOUR if route.edge.kind == "catch" else "#111827"
        spans = "".join(
            f'<tspan x="{_n(x)}" dy="{0 if n == 0 else _n(_LABEL_LINE)}">{_text(line)}</tspan>'
            for n, line in enumerate(text)
        )
        lines.append(
            f'<text class="edge-label" y="{_n(y - len(text) * _LABEL_LINE / 2 + 8)}" fill="{colour}" '
            f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{spans}</text>'
        )
    lines += ["</g>", "</svg>"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def write(definition: dict[str, Any], path: Path, title: str | None = None) -> Path:
    """Write the graph where ``path`` says: ``.svg``, ``.mmd`` (Mermaid) or ``.md`` (a mermaid block)."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        text = svg(definition, title)
    elif suffix == ".mmd":
        text = mermaid(definition, title)
    elif suffix == ".md":
        text = f"```mermaid\n{mermaid(definition, title)}```\n"
    else:
        raise ValueError(f"{path.name}: write a .svg, .mmd or .md file")
    path.write_text(text, encoding="utf-8")
    return path
