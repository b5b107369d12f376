"""How the fuzz suite's examples run, and how many ran per contract (tests/conftest.py prints the table).

The hooks live in the repository's test conftest, not in this folder's: with ``-n 2`` the
controller never collects this folder, yet it is the one that prints, after summing the
counts each worker hands over.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings

# Deterministic and bounded: the same examples on every run (no database, no random seed), none
# timed (a cold start is slow). A case's function-scoped fixtures (the state table, the
# environment) serve all of its examples on purpose: one execution environment, many
# invocations. Each case sets its own number on top: ``@settings(FUZZ, max_examples=...)``.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# (contract, kind) -> examples run; kind is valid, mutated (must be refused) or extreme
EXAMPLES: Counter[tuple[str, str]] = Counter()


def count(contract: str, kind: str) -> None:
    """One example run against a contract."""
    EXAMPLES[(contract, kind)] += 1


def exported() -> list[list[str | int]]:
    """The counts as a worker hands them to the controller (JSON-like, for execnet)."""
    return [[contract, kind, n] for (contract, kind), n in sorted(EXAMPLES.items())]


def merge(rows: list[list[str | int]]) -> None:
    for contract, kind, n in rows:
        EXAMPLES[(str(contract), str(kind))] += int(n)


def table() -> list[str]:
    """One line per contract: the examples of each kind, and the total."""
    if not EXAMPLES:
        return []
    kinds = sorted({kind for _, kind in EXAMPLES})
    contracts = sorted({contract for contract, _ in EXAMPLES})
    width = max(len(c) for c in [*contracts, "contract"])

    def line(name: str, row: list[int]) -> str:
        return f"{name:<{width}}  " + "  ".join(f"{n:>8}" for n in row) + f"  {sum(row):>8}"

    header = f"{'contract':<{width}}  " + "  ".join(f"{k:>8}" for k in kinds) + f"  {'total':>8}"
    rows = [line(c, [EXAMPLES[(c, k)] for k in kinds]) for c in contracts]
    totals = line("all", [sum(EXAMPLES[(c, k)] for c in contracts) for k in kinds])
    return [header, *rows, totals]
