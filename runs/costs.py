"""What a run may spend and what it spent: the run-wide `max_cost` shared by its paid
stages, and the cost summary of its stages."""

from __future__ import annotations

from typing import Any


class RunBudget:
    """The run-wide `max_cost`: each paid stage may spend what is left of it (or its own
    `max_cost`, if lower); a stage stopped by a budget stops the run."""

    def __init__(self, max_usd: float | None) -> None:
        self.max_usd, self.spent, self.stopped = max_usd, 0.0, False

    def cap(self, own: float | None) -> float | None:
        if self.max_usd is None:
            return own
        left = max(self.max_usd - self.spent, 0.0)
        return left if own is None else min(own, left)

    def record(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.spent += summary.get("spent_usd", summary.get("cost_usd")) or 0.0
        if summary.get("stopped") == "budget":
            self.stopped = True
        return summary


def run_costs(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the run's paid requests cost: in all, and by labeler; a stage whose model has no
    price is named, not guessed."""
    priced = [s for s in stages if "cost_usd" in s]
    unknown = [s.get("labeler") or s["stage"] for s in priced if s["cost_usd"] is None]
    by_labeler: dict[str, float] = {}
    for stage in priced:
        if stage.get("labeler") and stage["cost_usd"] is not None:
            by_labeler[stage["labeler"]] = by_labeler.get(stage["labeler"], 0) + stage["cost_usd"]
    costs = {
        "cost_usd": round(sum(s["cost_usd"] or 0 for s in priced), 9),
        "cost_usd_by_labeler": by_labeler,
    }
    return {**costs, "cost_unknown": unknown} if unknown else costs
