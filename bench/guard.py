"""How long the input guard's detectors take on one document, by size.

    .venv/bin/python bench/guard.py [--repeat 5]

Each figure is the median of N runs, in process, after one warm-up (the policies'
patterns are compiled once per Lambda instance). The documents are made of the
labelled corpus's own lines (attacks and business text), repeated to size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from aiflows.flows import flows
from aiflows.registry import capability_module
from aiflows_runtime.policies import ActionPolicy, content_policy, guard_policy, injection_policy

ROOT = Path(__file__).resolve().parents[1]
logic = capability_module("guard", "logic")  # the guard's own domain code, as its handler runs it

ACTIONS = ActionPolicy.model_validate(flows()["document_intake"].action_policy())
POLICIES = logic.Policies(guard_policy(), injection_policy(), content_policy(), ACTIONS)


def one_document(text: str) -> None:
    """What the input guard does to a text (input checks, injection, content, PII, redaction)."""
    logic.assess_input(text, "text/plain", POLICIES)


# text shaped to make the rules work hardest: a word boundary at every other character
ADVERSARIAL = {"'1 ' repeated": "1 ", "'a@b.' repeated": "a@b.", "'send the ' repeated": "send the "}
SIZES = {"1 KB": 1_000, "32 KB (inline limit)": 32_768, "256 KB": 262_144, "1 MiB (the limit)": 1_048_576}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    corpus = ROOT / "tests" / "guard_corpus"
    lines = [
        json.loads(line)["text"]
        for name in ("injection.jsonl", "pii.jsonl")
        for line in (corpus / name).open()
    ]
    source = "\n".join(lines)
    one_document("warm up")
    print(f"Input guard, one document: median of {repeat} runs")
    for label, size in SIZES.items():
        # cut to size in UTF-8 bytes (the corpus has accents): the limit counts bytes
        text = (source * (size // len(source) + 1)).encode()[:size].decode(errors="ignore")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            one_document(text)
            times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        print(f"  {label:<22} {median:>9.1f} ms   {size / 1024 / median * 1000:>7.0f} KB/s")
    print("Worst shapes found so far (1 MiB, the input limit), median of the same runs")
    for label, unit in ADVERSARIAL.items():
        text = (unit * (1_048_576 // len(unit) + 1))[:1_048_576]
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            one_document(text)
            times.append((time.perf_counter() - started) * 1000)
        print(f"  {label:<22} {statistics.median(times):>9.1f} ms")


if __name__ == "__main__":
    main()
