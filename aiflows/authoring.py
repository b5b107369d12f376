"""What the command line offers a team building flows: list them, print and draw what deploys.

    python -m aiflows flows list
    python -m aiflows flows show <flow> [--written]
    python -m aiflows flows graph <flow> [--svg FILE]

``show`` prints the definition that deploys, the written one with the house style
woven in (``--written``: as its author wrote it); ``graph`` prints its graph as
Mermaid text, and with ``--svg`` also draws it as a picture.
"""

from __future__ import annotations

import json
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
    from infra import graph as draw

    flow = _flow(name)
    definition = flow.woven()
    print(draw.mermaid(definition, title=flow.name))
    if svg_file:
        Path(svg_file).write_text(draw.svg(definition, title=flow.name), encoding="utf-8")
        print(f"\n(the graph as a picture: {svg_file})", file=sys.stderr)
    return 0
