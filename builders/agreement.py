"""Agreement between labelers on the same decisions: raw agreement and Cohen's kappa.

A decision is a key (e.g. an unordered candidate pair) with a categorical
answer (which candidate wins, or "tie"); two labelers are compared on the keys
both answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Agreement:
    n: int
    agreement: float | None
    kappa: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        round_ = lambda x: None if x is None else round(x, 4)  # noqa: E731
        return {"n": self.n, "agreement": round_(self.agreement), "kappa": round_(self.kappa)}


def cohen_kappa(first: list[Hashable], second: list[Hashable]) -> float | None:
    """Cohen's kappa of two aligned answer lists; None when it is undefined (no items, or
    both labelers always give one and the same answer)."""
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[c] * counts_b[c] for c in counts_a) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement(first: Mapping[Hashable, Hashable], second: Mapping[Hashable, Hashable]) -> Agreement:
    """Agreement of two labelers' answers on the keys both answered."""
    shared = [key for key in first if key in second]
    a, b = [first[k] for k in shared], [second[k] for k in shared]
    if not shared:
        return Agreement(0, None, None)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / len(shared)
    return Agreement(len(shared), observed, cohen_kappa(a, b))


def pair_answers(opinions: Any) -> dict[tuple[str, str, str], int]:
    """A labeler's answer (1: first id wins, -1: second, 0: tie) for every candidate pair it
    has an opinion on, keyed (prompt, lower id, higher id)."""
    answers: dict[tuple[str, str, str], int] = {}
    if opinions.kind == "score":
        for prompt, scored in opinions.scores.items():
            ordered = sorted(scored)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    answers[(prompt, a, b)] = opinions.prefer(prompt, a, b)
    else:
        for key in opinions.verdicts:
            answer = opinions.prefer(*key)
            if isinstance(answer, int):
                answers[key] = answer
    return answers


def agreement_matrix(all_opinions: list[Any]) -> dict[str, dict[str, Agreement]]:
    """Agreement of every two labelers on the candidate pairs both have an opinion on."""
    answers = {o.name: pair_answers(o) for o in all_opinions}
    names = list(answers)
    return {a: {b: agreement(answers[a], answers[b]) for b in names} for a in names}


def krippendorff_alpha(units: Mapping[Hashable, Mapping[Hashable, Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal answers: `units` maps each item to {rater: answer}.
    Items with fewer than two answers don't count; None when undefined (no pairable
    answers, or a single category throughout)."""
    coincidences: Counter[tuple[Hashable, Hashable]] = Counter()
    for answers in units.values():
        values = list(answers.values())
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidences[(a, b)] += 1 / (m - 1)
    total = sum(coincidences.values())
    if total == 0:
        return None
    marginals: Counter[Hashable] = Counter()
    for (a, _), weight in coincidences.items():
        marginals[a] += weight
    observed = sum(w for (a, b), w in coincidences.items() if a != b) / total
    expected = sum(marginals[a] * marginals[b] for a in marginals for b in marginals if a != b) / (
        total * (total - 1)
    )
    if expected == 0:
        return None
    return 1 - observed / expected
