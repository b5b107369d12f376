"""What differs between two stages' templates, resource by resource: ``python -m tests.infra.stage_diff``.

Prints, for the stacks of ``prod`` and ``dev`` synthesized side by side in one app (offline),
the resources whose template differs, by type (and which of their top-level keys do), and the
resources only one of them has, by type. tests/infra/test_stages.py checks the same list.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

Resources = dict[str, dict[str, Any]]


def _comparable(value: Any) -> str:
    # an asset's key is its content's hash: another synth of a tree being edited may differ there
    return re.sub(r'"[0-9a-f]{64}\.zip"', '"<asset>"', json.dumps(value, sort_keys=True))


def differences(a: Resources, b: Resources) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each resource of both whose template differs: its type and the keys that differ.

    A key is a top-level property (``Properties.X``) or an attribute such as ``DeletionPolicy``.
    """
    found = {}
    for logical_id in sorted(a.keys() & b.keys()):
        left, right = a[logical_id], b[logical_id]
        keys = {
            *(f"Properties.{k}" for k in {*left.get("Properties", {}), *right.get("Properties", {})}),
            *(k for k in {*left, *right} if k not in ("Properties", "Metadata")),
        }
        changed = tuple(sorted(k for k in keys if _comparable(_get(left, k)) != _comparable(_get(right, k))))
        if changed:
            found[logical_id] = (left["Type"], changed)
    return found


def by_type(diff: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, set[str]]:
    """The differences, by resource type: the keys that differ in some resource of that type."""
    types: dict[str, set[str]] = defaultdict(set)
    for kind, keys in diff.values():
        types[kind] |= set(keys)
    return dict(types)


def _get(resource: dict[str, Any], key: str) -> Any:
    if key.startswith("Properties."):
        return resource.get("Properties", {}).get(key.removeprefix("Properties."))
    return resource.get(key)


def synthesize_side_by_side(outdir: Path) -> dict[str, Resources]:
    """prod and dev in one app, as build(stages=…) puts them: each stack's resources, by stack name."""
    from app import build
    from infra.nag import REPORT_ONLY
    from infra.stage import DEV, PROD

    build(context=REPORT_ONLY, outdir=str(outdir), stages=[PROD, DEV]).synth()
    return {
        stage.stack_name: json.loads((outdir / f"{stage.stack_name}.template.json").read_text())["Resources"]
        for stage in (PROD, DEV)
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as outdir:
        stacks = synthesize_side_by_side(Path(outdir))
    (a_name, a), (b_name, b) = stacks.items()
    diff = differences(a, b)
    print(f"{a_name} and {b_name}: {len(a)} and {len(b)} resources, {len(diff)} of both differ")
    for kind, keys in sorted(by_type(diff).items()):
        count = sum(1 for k, _ in diff.values() if k == kind)
        print(f"  {kind} ({count}): {', '.join(sorted(keys))}")
    # A resource whose logical id CDK derives from its path (and so from the stack's name) is only in
    # one template by its id: an API deployment, the API's Lambda permissions; counted by type.
    for name, mine, other in ((a_name, a, b), (b_name, b, a)):
        only = Counter(mine[k]["Type"] for k in mine.keys() - other.keys())
        listed = ", ".join(f"{kind} ({count})" for kind, count in sorted(only.items()))
        print(f"  only in {name}, by logical id: {listed or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
