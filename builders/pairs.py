"""Preference pairs from labels: which candidate of a prompt is chosen over which.

Each labeler's labels become `Opinions`: scores per candidate (score labels) or
verdicts per candidate pair (pairwise labels, and every pair within a ranking).
A pair's margin is its score difference, or the strength a pairwise label keeps in
`details.margin` (`ingest pairs --strength-field`); rankings have none.
Pairs are proposed per labeler by a mode, then every labeler named is asked
about every proposed pair and their answers are combined. A pair never comes
from a tie, never repeats, and every pair not built is counted by reason.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json

PAIR_MODES = {
    "score": ("best-worst", "all", "quantile"),
    "ranking": ("best-worst", "all", "adjacent"),
    "pairwise": (),  # the pairs judged, whatever the mode
}
COMBINE_MODES = ("agree", "vote", "first")
CONFLICT = "conflict"


def pair_key(prompt_id: str, a: str, b: str) -> tuple[str, str, str]:
    return (prompt_id, a, b) if a < b else (prompt_id, b, a)


@dataclass
class Opinions:
    """What one labeler said, ready to be asked `prefer(prompt, a, b)`."""

    name: str
    kind: str
    scores: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    verdicts: dict[tuple[str, str, str], Any] = field(default_factory=dict)  # winner id, "tie"
    orders: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)
    # pairwise strengths by pair_key, signed: > 0 when the key's first candidate won
    strengths: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    problems: Counter[str] = field(default_factory=Counter)

    def _verdict(self, prompt: str, a: str, b: str, winner: str) -> None:
        key = pair_key(prompt, a, b)
        if self.verdicts.setdefault(key, winner) != winner:
            self.verdicts[key] = CONFLICT

    def add(self, label: Mapping[str, Any]) -> None:
        """Take one label row (`kind`, `prompt_id`, `candidate_ids`, `scores`, `error`, and
        optionally `details`, a dict or its JSON text)."""
        items, scores, prompt = label["candidate_ids"], label["scores"], label["prompt_id"]
        if label.get("error") or scores is None or any(s is None or math.isnan(s) for s in scores):
            reason = (label.get("error") or "no_scores").split(":")[0]
            self.problems["inconsistent" if reason == "inconsistent" else "label_error"] += 1
            return
        if self.kind == "score":
            self.scores[prompt][items[0]] = float(scores[0])
        elif self.kind == "pairwise":
            a, b = items
            winner = "tie" if scores[0] == scores[1] else (a if scores[0] > scores[1] else b)
            self._verdict(prompt, a, b, winner)
            if (strength := _strength(label.get("details"))) is not None:
                key = pair_key(prompt, a, b)
                sign = 0.0 if winner == "tie" else (1.0 if winner == key[1] else -1.0)
                self.strengths.setdefault(key, []).append(sign * strength)
        else:  # ranking, best first
            order = sorted(zip(items, map(float, scores), strict=True), key=lambda kv: -kv[1])
            self.orders.append((prompt, order))
            for i, (a, score_a) in enumerate(order):
                for b, score_b in order[i + 1 :]:
                    self._verdict(prompt, a, b, "tie" if score_a == score_b else a)

    def prefer(self, prompt: str, a: str, b: str) -> int | str | None:
        """1 if a is preferred, -1 if b, 0 for a tie, "conflict", or None (no opinion)."""
        if self.kind == "score":
            scored = self.scores.get(prompt, {})
            if a not in scored or b not in scored:
                return None
            return (scored[a] > scored[b]) - (scored[a] < scored[b])
        verdict = self.verdicts.get(pair_key(prompt, a, b))
        if verdict is None or verdict == CONFLICT:
            return verdict
        return 0 if verdict == "tie" else (1 if verdict == a else -1)

    def margin(self, prompt: str, a: str, b: str) -> float | None:
        """How much better a is than b: the score difference, or the mean strength of this
        labeler's pairwise labels of the pair (negative when b won); None if it gives none."""
        if self.kind == "pairwise":
            key = pair_key(prompt, a, b)
            if not (given := self.strengths.get(key)):
                return None
            return (1.0 if a == key[1] else -1.0) * sum(given) / len(given)
        scored = self.scores.get(prompt, {})
        return scored[a] - scored[b] if a in scored and b in scored else None


def _strength(details: Any) -> float | None:
    """A pairwise label's `details.margin`: a finite number >= 0, else None (ignored)."""
    if isinstance(details, str):
        details = load_json(details)
    value = details.get("margin") if isinstance(details, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class PairChoice:
    prompt_id: str
    chosen_id: str
    rejected_id: str
    margin: float | None
    labelers: tuple[str, ...]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def propose_pairs(
    opinions: Opinions, mode: str, min_margin: float, quantile: float, drops: Counter[str]
) -> list[tuple[str, str, str]]:
    """Candidate pairs (prompt, a, b) this labeler's labels suggest under `mode`."""
    if opinions.kind != "pairwise" and mode not in PAIR_MODES[opinions.kind]:
        choices = ", ".join(PAIR_MODES[opinions.kind])
        raise UserError(
            f"--pairs {mode} does not apply to {opinions.kind} labels of {opinions.name} (use {choices})"
        )
    proposed: list[tuple[str, str, str]] = []
    if opinions.kind == "score":
        everything = [s for scored in opinions.scores.values() for s in scored.values()]
        high = _quantile(everything, 1 - quantile) if everything else 0.0
        low = _quantile(everything, quantile) if everything else 0.0
        for prompt, scored in opinions.scores.items():
            # Equal scores go to the lower candidate id: the same pairs whatever the storage order.
            ranked = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
            if len(ranked) < 2:
                drops["single_candidate"] += 1
                continue
            if mode == "best-worst":
                worst = min((kv for kv in ranked if kv[1] == ranked[-1][1]), key=lambda kv: kv[0])
                candidates = [(ranked[0], worst)]
            elif mode == "all":
                candidates = [(x, y) for i, x in enumerate(ranked) for y in ranked[i + 1 :]]
            else:
                top = [kv for kv in ranked if kv[1] >= high]
                bottom = [kv for kv in ranked if kv[1] <= low]
                candidates = [(x, y) for x in top for y in bottom if x[0] != y[0]]
                if not candidates:
                    drops["outside_quantiles"] += 1
            for (a, score_a), (b, score_b) in candidates:
                if score_a == score_b:
                    drops["tie"] += 1
                elif score_a - score_b <= min_margin:
                    drops["below_margin"] += 1
                else:
                    proposed.append((prompt, a, b))
    elif opinions.kind == "ranking":
        for prompt, order in opinions.orders:
            if len(order) < 2:
                drops["single_candidate"] += 1
                continue
            if mode == "best-worst":
                candidates = [(order[0], order[-1])]
            elif mode == "adjacent":
                candidates = list(itertools.pairwise(order))
            else:
                candidates = [(x, y) for i, x in enumerate(order) for y in order[i + 1 :]]
            for (a, score_a), (b, score_b) in candidates:
                if score_a == score_b:
                    drops["tie"] += 1
                else:
                    proposed.append((prompt, a, b))
    else:
        for (prompt, a, b), verdict in opinions.verdicts.items():
            if verdict == CONFLICT:
                drops["conflicting_verdicts"] += 1
            elif verdict == "tie":
                drops["tie"] += 1
            else:
                proposed.append((prompt, verdict, b if verdict == a else a))
    return proposed


def choose_pairs(
    all_opinions: list[Opinions],
    *,
    mode: str = "best-worst",
    combine: str = "agree",
    weights: Mapping[str, float] | None = None,
    min_margin: float = 0.0,
    quantile: float = 0.25,
) -> tuple[list[PairChoice], Counter[str]]:
    """Pairs every labeler agrees on (`agree`), that win a weighted vote (`vote`), or that
    the first labeler with a preference decides, in the order given (`first`: a verifier
    first, then a judge for the answers the verifier scores equally)."""
    if combine not in COMBINE_MODES:
        raise UserError(f"--combine must be one of {', '.join(COMBINE_MODES)}, not {combine!r}")
    drops: Counter[str] = Counter()
    for opinions in all_opinions:
        drops.update(opinions.problems)
    proposed: dict[tuple[str, str, str], None] = {}
    for opinions in all_opinions:
        for prompt, a, b in propose_pairs(opinions, mode, min_margin, quantile, drops):
            key = pair_key(prompt, a, b)
            if key in proposed:
                drops["duplicate_pair"] += 1
            proposed[key] = None
    weights = weights or {}
    lead = all_opinions[0]
    top = max((v for scored in lead.scores.values() for v in scored.values()), default=None)
    choices = []
    for prompt, a, b in proposed:
        answers = {o.name: o.prefer(prompt, a, b) for o in all_opinions}
        given = {name: v for name, v in answers.items() if v is not None}
        if any(v == CONFLICT for v in given.values()):
            drops["conflicting_verdicts"] += 1
            continue
        if combine == "first":
            decided, reason = _first_say(all_opinions, answers, prompt, a, b, top)
            if decided is None:
                drops[reason] += 1
                continue
            total, given = decided[1], {decided[0]: decided[1]}
        elif combine == "agree":
            if len(given) < len(all_opinions):
                drops["missing_opinion"] += 1
                continue
            if len(set(given.values())) > 1:
                drops["labelers_disagree"] += 1
                continue
            total = next(iter(given.values()))
        else:
            total = sum(weights.get(name, 1.0) * v for name, v in given.items())
        if total == 0:
            drops["tie"] += 1
            continue
        chosen, rejected = (a, b) if total > 0 else (b, a)
        margins = [m for o in all_opinions if (m := o.margin(prompt, chosen, rejected)) is not None]
        margin = sum(margins) / len(margins) if margins else None
        choices.append(PairChoice(prompt, chosen, rejected, margin, tuple(sorted(given))))
    return choices, drops


def _first_say(all_opinions, answers, prompt, a, b, top) -> tuple[tuple | None, str]:
    """`first`: the first labeler decides; the next ones only order answers it scores the
    same at its top score (two right answers, not two wrong ones). ((name, verdict), _) or
    (None, why not)."""
    lead = all_opinions[0]
    verdict = answers[lead.name]
    if verdict == CONFLICT:
        return None, "conflicting_verdicts"
    if verdict not in (None, 0):
        return (lead.name, verdict), ""
    if verdict is None:
        return None, "missing_opinion"  # the first labeler did not judge it: no say for others
    if lead.kind == "score" and lead.scores[prompt][a] != top:
        return None, "tie_below_top"  # equally wrong: which is less wrong is no preference
    for opinions in all_opinions[1:]:
        later = answers[opinions.name]
        if later not in (None, 0, CONFLICT):
            return (opinions.name, later), ""
    return None, "tie"


def opinions_from_labels(name: str, labels: Iterable[Mapping[str, Any]]) -> Opinions:
    """One labeler's Opinions; UserError if its labels mix kinds."""
    labels = list(labels)
    kinds = {label["kind"] for label in labels}
    if len(kinds) != 1 or (kind := kinds.pop()) not in PAIR_MODES:
        raise UserError(
            f"labeler {name} has labels of kinds {sorted(kinds) or 'none'}; expected one of score, pairwise, ranking"
        )
    opinions = Opinions(name, kind)
    for label in labels:
        opinions.add(label)
    return opinions
