"""`panel`: a learned combination of labelers, fit on gold labels.

    prefsmith label --labeler panel --option members=rm-hh,yes_no,judge --option gold=human:hh-rlhf

For a pair of candidates (a, b) the features are, per member, its score difference (a score
labeler), its verdict as +1/-1/0 (a pairwise one), or 0 with a missing flag where it said
nothing; and the length difference (log of the length ratio) as a covariate, so that a member's
taste for length is not passed on: the members' weights are fit holding length fixed, and the
length term carries the gold's own preference. A logistic regression (scikit-learn) is fit on
the gold's decided pairs, each pair also entered swapped (features negated, the answer flipped,
no intercept) so that P(a over b) = 1 - P(b over a).

Cross-fitting keeps the figure on gold honest: every gold pair is labeled by a model fit on the
other folds (prompts split into `folds` groups), every other pair by the model fit on all gold
pairs. Each label keeps `p_chosen`, the probability that its first candidate is preferred, and
the members' contributions; the fit (weights, folds, cross-fitted accuracy) is in the
fingerprint and the run summary.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from pydantic import Field

from prefsmith.builders.pairs import Opinions, opinions_from_labels, pair_key
from prefsmith.labelers.base import Item, Labeler, LabelerOptions
from prefsmith.schemas.config import CommaList
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label

LENGTH = "length"


class PanelOptions(LabelerOptions):
    members: CommaList = Field(
        min_length=1, description="Labelers to combine (LABELER or LABELER:ASPECT), a,b,c."
    )
    gold: CommaList = Field(
        min_length=1,
        description="Gold labeler(s) the panel is fit on, a,b: where two judged a pair, the "
        "later wins (human:hh-rlhf,human:label-studio: the annotators' verdicts first).",
    )
    folds: int = Field(default=5, ge=2, description="Cross-fitting folds over prompts.")
    seed: int = Field(default=0, description="Seed of the fold assignment.")
    length_covariate: bool = Field(
        default=True, description="Fit the length difference as a covariate."
    )
    min_overlap: int = Field(
        default=30, ge=0, description="Gold pairs a member must have judged to be fit."
    )
    drop_sparse: bool = Field(
        default=False, description="Drop a member under min_overlap with a warning, not an error."
    )


class PanelLabeler(Labeler):
    key = "panel"
    unit = "pair"
    kind = "pairwise"
    Options = PanelOptions
    options: PanelOptions

    def __init__(self, options: PanelOptions) -> None:
        super().__init__(options)
        self.fit: dict[str, Any] | None = None

    @property
    def batch_size(self) -> int:
        return self.options.batch_size or 512

    def prepare(self, store: Any) -> None:
        """Read the members' and the gold's labels and fit the panel (cross-fitted on gold)."""
        from prefsmith.store.labeler_records import trained_pairs_files
        from prefsmith.store.queries import candidate_lengths, labels_of

        if self.fit is not None:
            return
        members, sources, trained = [], {}, {}
        for spec in self.options.members:
            name, fingerprint, rows, _ = labels_of(store, spec)
            members.append(opinions_from_labels(spec, rows))
            sources[spec] = [fingerprint, len(rows)]
            trained[spec] = [str(p) for p in trained_pairs_files(store, name, fingerprint)]
        golds = []
        for spec in self.options.gold:
            gold_name, gold_fp, gold_rows, _ = labels_of(store, spec)
            golds.append(opinions_from_labels(gold_name, gold_rows))
            sources[spec] = [gold_fp, len(gold_rows)]
        lengths = candidate_lengths(store)
        specs, members, coverage = self._covered(list(self.options.members), members, golds)
        self.fit = fit_panel(members, golds, lengths, self.options, specs)
        self.fit.update(sources=sources, coverage=coverage,
                        dropped=[s for s in self.options.members if s not in specs])  # fmt: skip
        self._members, self._lengths = members, lengths
        self._trained = sorted({f for spec in specs for f in trained[spec]})

    def trained_pairs(self) -> list[str] | None:
        """Its members' training pairs: a member scored on pairs it learned makes the panel
        look better on them too."""
        return getattr(self, "_trained", None) or None

    def _covered(
        self, specs: list[str], members: list[Opinions], golds: list[Opinions]
    ) -> tuple[list[str], list[Opinions], dict[str, int]]:
        """Each member's coverage (the decided gold pairs it judged); a member under
        `min_overlap` is refused, or dropped with a warning under `drop_sparse`."""
        verdicts, _ = gold_verdicts(golds)
        coverage = {spec: sum(judged(member, *key) for key in verdicts)
                    for spec, member in zip(specs, members, strict=True)}  # fmt: skip
        sparse = [spec for spec in specs if coverage[spec] < self.options.min_overlap]
        if sparse and not self.options.drop_sparse:
            raise UserError(
                "panel: " + ", ".join(f"{s} judged {coverage[s]} of the {len(verdicts)} gold pairs"
                                      for s in sparse)
                + f" (min_overlap {self.options.min_overlap}): label the gold pairs with it, or"
                " --option drop_sparse=true to fit without it"
            )  # fmt: skip
        for spec in sparse:
            logging.getLogger("prefsmith").warning(
                "panel: %s judged %d of the %d gold pairs (min_overlap %d): dropped",
                spec, coverage[spec], len(verdicts), self.options.min_overlap,
            )  # fmt: skip
        kept = [i for i, spec in enumerate(specs) if spec not in sparse]
        if not kept:
            raise UserError("panel: no member judged enough gold pairs to be fit")
        return [specs[i] for i in kept], [members[i] for i in kept], coverage

    def fingerprint_parts(self) -> dict[str, Any]:
        if self.fit is None:
            raise RuntimeError("the panel is fit in prepare(store) before its fingerprint")
        o = self.options
        return {
            "members": o.members,
            "gold": o.gold,
            "folds": o.folds,
            "seed": o.seed,
            "length_covariate": o.length_covariate,
            "sources": self.fit["sources"],
            "weights": self.fit["weights"],
            **({"dropped": self.fit["dropped"]} if self.fit["dropped"] else {}),
        }

    def label_batch(self, items: list[Item]) -> list[Label]:
        labels = []
        for item in items:
            a, b = item.candidate_ids
            x = features(self._members, self._lengths, item.prompt_id, a, b, self.options)
            fold_model = self.fit["cross_fitted"].get(pair_key(item.prompt_id, a, b))
            weights = np.array(self.fit["weight_vector"] if fold_model is None else fold_model)
            p = 1.0 / (1.0 + math.exp(-float(x @ weights)))
            contributions = dict(
                zip(self.fit["feature_names"], (x * weights).round(6).tolist(), strict=True)
            )
            details = {"p_chosen": round(p, 6), "contributions": contributions,
                       "cross_fitted": fold_model is not None}  # fmt: skip
            labels.append(self.make_label(item, [p, 1.0 - p], details))
        return labels

    def summary(self, labels: list[Label]) -> dict[str, Any]:
        fit = self.fit or {}
        return {
            "gold_pairs": fit.get("gold_pairs"),
            "gold_pairs_by_labeler": fit.get("gold_pairs_by_labeler"),
            "cross_fitted_accuracy": fit.get("cross_fitted_accuracy"),
            "panel_weights": fit.get("weights"),
            "panel_coverage": fit.get("coverage"),
            "panel_dropped": fit.get("dropped"),
        }


def feature_names(specs: list[str], length_covariate: bool) -> list[str]:
    names = []
    for spec in specs:
        names += [spec, f"{spec}:missing"]
    return names + ([LENGTH] if length_covariate else [])


def judged(member: Opinions, prompt: str, a: str, b: str) -> bool:
    """Whether the member said something about the pair (a score for both, or a verdict)."""
    if member.kind == "score":
        return member.margin(prompt, a, b) is not None
    return member.prefer(prompt, a, b) in (1, 0, -1)


def features(
    members: list[Opinions], lengths: dict[str, int], prompt: str, a: str, b: str, options: Any
) -> np.ndarray:
    """The pair's feature vector (see the module docstring); negated when a and b swap,
    missing flags aside, which the no-intercept fit makes harmless."""
    row: list[float] = []
    for opinions in members:
        if opinions.kind == "score":
            value = opinions.margin(prompt, a, b)
        else:
            verdict = opinions.prefer(prompt, a, b)
            value = float(verdict) if verdict in (1, 0, -1) else None
        row += [0.0, 1.0] if value is None else [float(value), 0.0]
    if options.length_covariate:
        row.append(math.log((lengths.get(a, 0) + 1) / (lengths.get(b, 0) + 1)))
    return np.array(row)


def gold_verdicts(golds: list[Opinions]) -> tuple[dict[tuple[str, str, str], bool], dict]:
    """{pair: True if its first candidate won} over the gold labelers' decided pairs, a later
    labeler's verdict replacing an earlier one's; and how many pairs each one decided."""
    verdicts, source = {}, {}
    for gold in golds:
        for key in gold.verdicts:
            verdict = gold.prefer(*key)
            if verdict in (1, -1):
                verdicts[key], source[key] = verdict == 1, gold.name
    counts = {gold.name: sum(1 for who in source.values() if who == gold.name) for gold in golds}
    return verdicts, counts


def fit_panel(
    members: list[Opinions],
    golds: list[Opinions],
    lengths: dict[str, int],
    options: PanelOptions,
    specs: list[str] | None = None,
) -> dict[str, Any]:
    """The panel's weights on all gold pairs, and per gold pair the weights of the model fit
    on the other folds; with the cross-fitted accuracy on gold."""
    from sklearn.linear_model import LogisticRegression

    verdicts, by_gold = gold_verdicts(golds)
    keys = sorted(verdicts)  # the same fit, and fingerprint, whatever order labels are read in
    answers = [verdicts[key] for key in keys]
    if len(keys) < 2 * options.folds:
        raise UserError(
            f"panel: {len(keys)} decided gold pairs in {', '.join(options.gold)}; need at "
            f"least {2 * options.folds} to fit and cross-fit"
        )
    x = np.array([features(members, lengths, *key, options) for key in keys])
    y = np.array(answers, dtype=int)
    mirror = np.ones(x.shape[1])
    mirror[1 : 2 * len(members) : 2] = -1  # missing flags do not flip with the pair

    def fit(rows: np.ndarray) -> np.ndarray:
        both_x = np.vstack([x[rows], x[rows] * -mirror])  # each pair also entered swapped
        both_y = np.concatenate([y[rows], 1 - y[rows]])
        # Features on one scale, so the penalty does not favour the widest (length over a
        # reward model's small score differences); the weights go back to raw units.
        scale = np.sqrt((both_x**2).mean(axis=0))
        scale[scale == 0] = 1.0
        model = LogisticRegression(fit_intercept=False, max_iter=1000)
        return model.fit(both_x / scale, both_y).coef_[0] / scale

    prompts = sorted({key[0] for key in keys})
    rng = np.random.default_rng(options.seed)
    fold_of = dict(zip(prompts, rng.permutation(len(prompts)) % options.folds, strict=True))
    folds = np.array([fold_of[key[0]] for key in keys])
    cross, correct = {}, []
    for fold in range(options.folds):
        inside = folds == fold
        weights = fit(np.flatnonzero(~inside))
        for index in np.flatnonzero(inside):
            cross[keys[index]] = weights.round(8).tolist()
            correct.append((float(x[index] @ weights) > 0) == bool(y[index]))
    weights = fit(np.arange(len(keys)))
    names = feature_names(list(options.members) if specs is None else specs,
                          options.length_covariate)  # fmt: skip
    return {
        "feature_names": names,
        "weight_vector": weights.tolist(),
        "weights": {n: round(float(w), 6) for n, w in zip(names, weights, strict=True)},
        "gold_pairs": len(keys),
        "gold_pairs_by_labeler": by_gold,
        "folds": options.folds,
        "cross_fitted_accuracy": round(float(np.mean(correct)), 4),
        "cross_fitted": cross,
    }
