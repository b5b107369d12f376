"""How well the guard's detectors do on the labelled corpus in ``tests/guard_corpus/``.

    python -m evals.guard            # the table (make eval)
    python -m evals.guard --misses   # and every line a detector got wrong

``injection.jsonl`` labels each text ``injection`` or ``benign`` (with its tactic);
``pii.jsonl`` lists each text's PII values by kind. A PII value counts as found when
a match of the same kind overlaps it; a match that overlaps no value of its kind is a
false positive. The goals (issue: guardrails as code) are checked by
``tests/unit/test_guard_eval.py``.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiflows_runtime.guardrails.injection import detect_injection
from aiflows_runtime.pii import find_pii
from aiflows_runtime.policies import injection_policy

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "guard_corpus"
HOLDOUT = CORPUS / "holdout"  # written apart, by another author; no rule was written from its lines

PII_KINDS = ("email", "phone", "card_number", "iban", "national_id")
GOALS = {"injection_recall": 0.95, "injection_fpr": 0.02, "pii_recall": 0.98}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


def rows(name: str, corpus: Path = CORPUS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (corpus / name).read_text().splitlines() if line.strip()]


def injection_scores(corpus: Path = CORPUS) -> tuple[Score, dict[str, Score]]:
    """The detector over every line; the overall score and the recall per tactic."""
    policy = injection_policy()
    overall, by_tactic = Score(), defaultdict[str, Score](Score)
    for row in rows("injection.jsonl", corpus):
        flagged = detect_injection(row["text"], policy).detected
        attack = row["label"] == "injection"
        tactic = by_tactic[row["tactic"]]
        for score in (overall, tactic):
            if attack and flagged:
                score.tp += 1
            elif attack:
                score.fn += 1
                score.misses.append(f"missed {row['id']} ({row['tactic']}): {row['text']!r}")
            elif flagged:
                score.fp += 1
                score.misses.append(f"false alarm {row['id']} ({row['tactic']}): {row['text']!r}")
            else:
                score.tn += 1
    return overall, dict(by_tactic)


def pii_scores(corpus: Path = CORPUS) -> dict[str, Score]:
    scores = {kind: Score() for kind in PII_KINDS}
    for row in rows("pii.jsonl", corpus):
        text = row["text"]
        gold: list[Any] = []
        cursor: dict[str, int] = {}
        for item in row["pii"]:
            start = text.find(item["value"], cursor.get(item["value"], 0))
            cursor[item["value"]] = start + 1
            gold.append((item["kind"], start, start + len(item["value"])))
        found = [(m.kind, m.start, m.end) for m in find_pii(text)]
        for kind, start, end in gold:
            if any(k == kind and s < end and start < e for k, s, e in found):
                scores[kind].tp += 1
            else:
                scores[kind].fn += 1
                scores[kind].misses.append(f"missed {row['id']}: {text[start:end]!r} in {text!r}")
        for kind, start, end in found:
            if not any(k == kind and s < end and start < e for k, s, e in gold):
                scores[kind].fp += 1
                scores[kind].misses.append(f"false {kind} {row['id']}: {text[start:end]!r} in {text!r}")
    return scores


def table(corpus: Path, by_tactic: bool = True) -> tuple[list[str], list[str]]:
    """The table of one corpus, and the lines its detectors got wrong."""
    overall, tactics = injection_scores(corpus)
    pii = pii_scores(corpus)
    total = Score(*(sum(getattr(s, f) for s in pii.values()) for f in ("tp", "fp", "fn", "tn")))
    lines = [
        f"{'detector':<34} {'precision':>9} {'recall':>7} {'FPR':>6}   tp   fp   fn   tn",
        _line("prompt injection", overall),
        *(_line(f"  {tactic}", score) for tactic, score in sorted(tactics.items()) if by_tactic),
        *(_line(f"pii: {kind}", pii[kind], fpr=False) for kind in PII_KINDS),
        _line("pii: all structured kinds", total, fpr=False),
    ]
    return lines, overall.misses + [miss for kind in PII_KINDS for miss in pii[kind].misses]


def report(show_misses: bool = False) -> str:
    lines, misses = table(CORPUS)
    out = [f"corpus: {CORPUS.relative_to(ROOT)} (the rules were written against it)", *lines]
    if (HOLDOUT / "injection.jsonl").is_file() and (HOLDOUT / "pii.jsonl").is_file():
        held, held_misses = table(HOLDOUT, by_tactic=False)
        out += ["", f"held out: {HOLDOUT.relative_to(ROOT)} (written apart; no rule written from it)", *held]
        misses += held_misses
    out.append(
        f"\ngoals (on the corpus): injection recall >= {GOALS['injection_recall']}, false-positive rate <= "
        f"{GOALS['injection_fpr']}; PII recall >= {GOALS['pii_recall']} per structured kind"
    )
    if show_misses:
        out += ["", *misses]
    return "\n".join(out)


def _line(name: str, score: Score, fpr: bool = True) -> str:
    rate = f"{score.fpr:>6.3f}" if fpr else f"{'-':>6}"  # a PII span has no true negatives to count
    tn = f"{score.tn:>4}" if fpr else f"{'-':>4}"
    counts = f"{score.tp:>4} {score.fp:>4} {score.fn:>4} {tn}"
    return f"{name:<34} {score.precision:>9.3f} {score.recall:>7.3f} {rate} {counts}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", action="store_true", help="list every line a detector got wrong")
    print(report(parser.parse_args().misses))
