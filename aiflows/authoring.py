"""What the command line offers a team building flows: list them, print and draw what deploys.

    python -m aiflows flows list
    python -m aiflows flows show <flow> [--written]
    python -m aiflows flows graph <flow> [--svg FILE]
    python -m aiflows flows docs  <flow>

``show`` prints the definition that deploys, the written one with the house style
woven in (``--written``: as its author wrote it); ``graph`` prints its graph as
Mermaid text, and with ``--svg`` also draws it as a picture; ``docs`` writes the
generated parts of the flow's ``README.md`` (its graph, as a picture and as Mermaid
text, and what a run costs) and its ``graph.svg``, which a test keeps up to date.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from aiflows.flows import FlowInfo, flows


def lines(definition: dict[str, Any]) -> int:
    """How long a definition is, as the repository's files lay it out (two-space JSON)."""
    return len(json.dumps(definition, indent=2).splitlines())


def _flow(name: str) -> FlowInfo:
    found = flows()
    if name not in found:
        raise SystemExit(f"error: no flow {name!r} in statemachines/ (flows: {', '.join(sorted(found))})")
    return found[name]


def list_flows() -> int:
    print(f"{'flow':<20} {'type':<9} {'states':>6} {'written':>8} {'woven':>6}  started by")
    for flow in flows().values():
        woven = flow.woven()
        started = (
            ", ".join(d for t in flow.manifest.triggers for d in t.detail_type)
            if flow.manifest.started_by == "events"
            else "clients (StartExecution / StartSyncExecution)"
        )
        print(
            f"{flow.name:<20} {flow.manifest.type:<9} {len(woven['States']):>6} "
            f"{lines(flow.written):>8} {lines(woven):>6}  {started}"
        )
    print(
        "\nwritten/woven: the definition's lines as written, and as it deploys (python -m aiflows flows show)"
    )
    return 0


def show(name: str, written: bool) -> int:
    flow = _flow(name)
    json.dump(flow.written if written else flow.woven(), sys.stdout, indent=2)
    print()
    return 0


def graph(name: str, svg_file: str | None) -> int:
    from aiflows import graph as draw

    flow = _flow(name)
    definition = flow.woven()
    print(draw.mermaid(definition, title=flow.name))
    if svg_file:
        Path(svg_file).write_text(draw.svg(definition, title=flow.name), encoding="utf-8")
        print(f"\n(the graph as a picture: {svg_file})", file=sys.stderr)
    return 0


GRAPH_FILE = "graph.svg"
README = "README.md"


def generated_parts(flow: FlowInfo) -> dict[str, str]:
    """The parts of a flow's README.md that are generated from what deploys, by marker name."""
    from aiflows import graph as draw
    from infra.pricing import render

    woven = flow.woven()
    mermaid = draw.mermaid(woven, title=flow.name).rstrip()
    return {
        "graph": (
            f"![{flow.name}]({GRAPH_FILE})\n\n<details><summary>As Mermaid text</summary>\n\n"
            f"```mermaid\n{mermaid}\n```\n\n</details>"
        ),
        "pricing": render([flow]),
    }


def _block(name: str, body: str) -> str:
    return f"<!-- aiflows:{name} -->\n{body}\n<!-- /aiflows:{name} -->"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- aiflows:{name} -->\n(.*?)\n<!-- /aiflows:{name} -->", re.DOTALL)


# where a generated part goes in a page that lacks it: a flow's README.md, or docs/flows.md (costs)
_HEADINGS = {
    "graph": "## Its graph",
    "pricing": "## What a run costs to orchestrate",
    "costs": "## What a run costs",
}


def generated_part(text: str, name: str) -> str | None:
    """The body of a page's generated part ``name``, or None when the page has none."""
    found = _pattern(name).search(text)
    return found.group(1) if found else None


def with_generated_parts(readme: str, parts: dict[str, str]) -> str:
    """The page with each generated part replaced, or added at its end under its heading."""
    for name, body in parts.items():
        pattern = _pattern(name)
        block = _block(name, body)
        if pattern.search(readme):
            readme = pattern.sub(block.replace("\\", "\\\\"), readme)
        else:
            readme = readme.rstrip("\n") + f"\n\n{_HEADINGS[name]}\n\n{_block(name, body)}\n"
    return readme


def write_docs(flow: FlowInfo) -> list[Path]:
    """Write the flow's graph.svg and the generated parts of its README.md."""
    from aiflows import graph as draw

    graph_file, readme = flow.folder / GRAPH_FILE, flow.folder / README
    graph_file.write_text(draw.svg(flow.woven(), title=flow.name), encoding="utf-8")
    text = (
        readme.read_text(encoding="utf-8")
        if readme.is_file()
        else f"# {flow.name}\n\n{flow.manifest.description}\n"
    )
    readme.write_text(with_generated_parts(text, generated_parts(flow)), encoding="utf-8")
    return [graph_file, readme]


def docs(name: str) -> int:
    for path in write_docs(_flow(name)):
        print(f"wrote {path}")
    return 0
