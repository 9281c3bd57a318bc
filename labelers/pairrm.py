"""`pairrm`: PairRM (llm-blender) ranks, compares or scores candidates.

    prefsmith label --labeler pairrm                       # rank all candidates of each prompt
    prefsmith label --labeler pairrm --mode compare        # every pair, judged in both orders
    prefsmith label --labeler pairrm --mode reference      # each candidate vs the prompt's reference

`--model` is a Hub id (default llm-blender/PairRM) or a local ranker folder
(`config.json` with the ranker fields and the weights). In `compare` mode a pair
whose verdict flips with the order is labeled `inconsistent`, never a tie.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field

from prefsmith.endpoints.weights import model_identity, resolve_device
from prefsmith.labelers.base import Item, Labeler, LabelerOptions
from prefsmith.labelers.blender_compat import import_llm_blender
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, render_dialogue

MODES = {
    "rank": ("prompt", "ranking"),
    "compare": ("pair", "pairwise"),
    "reference": ("candidate", "score"),
}


class PairRMOptions(LabelerOptions):
    model: str = Field(default="llm-blender/PairRM", description="A Hub id or a ranker folder.")
    mode: Literal["rank", "compare", "reference"] = Field(
        default="rank", description="What is compared"
    )
    source_max_length: int | None = None
    candidate_max_length: int | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"


class PairRMLabeler(Labeler):
    key = "pairrm"
    Options = PairRMOptions
    options: PairRMOptions

    def __init__(self, options: PairRMOptions) -> None:
        super().__init__(options)
        self._identity = model_identity(options.model)
        self.unit, self.kind = MODES[options.mode]  # type: ignore[misc]
        self.blender: Any = None

    def fingerprint_parts(self) -> dict[str, Any]:
        o = self.options
        return {
            **self._identity,
            "mode": o.mode,
            "source": o.source_max_length,
            "candidate": o.candidate_max_length,
        }

    def load(self) -> None:
        if self.blender is not None:
            return
        llm_blender = import_llm_blender()
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # llm-blender warns about every unused part
        try:
            self.blender = llm_blender.Blender()
            self.blender.loadranker(self.options.model, device=resolve_device(self.options.device))
        except Exception as error:
            raise UserError(
                f"--model {self.options.model}: cannot load a PairRM ranker ({error})"
            ) from None
        finally:
            logging.getLogger().setLevel(quiet)

    def _lengths(self) -> dict[str, int]:
        o = self.options
        given = {
            "source_max_length": o.source_max_length,
            "candidate_max_length": o.candidate_max_length,
        }
        return {k: v for k, v in given.items() if v}

    def _logits(
        self, sources: list[str], first: list[str], second: list[str], mode: str
    ) -> list[float]:
        logits = self.blender.compare(
            sources,
            first,
            second,
            mode=mode,
            return_logits=True,
            disable_tqdm=True,
            batch_size=self.batch_size,
        )
        return [float(x) for x in logits]

    def label_batch(self, items: list[Item]) -> list[Label]:
        sources = [
            render_dialogue(item.messages)
            if len(item.messages) > 1
            else item.messages[-1]["content"]
            for item in items
        ]
        if self.options.mode == "rank":
            return [self._rank(item, source) for item, source in zip(items, sources, strict=True)]
        if self.options.mode == "compare":
            first = [item.contents[0] for item in items]
            second = [item.contents[1] for item in items]
            forward = self._logits(sources, first, second, "[A,B]")
            backward = self._logits(sources, first, second, "[B,A]")
            labels = []
            for item, ab, ba in zip(items, forward, backward, strict=True):
                details = {"logit_ab": ab, "logit_ba": ba}
                if (ab > 0) != (ba > 0):
                    labels.append(self.make_label(item, None, details, error="inconsistent"))
                else:
                    labels.append(
                        self.make_label(item, [1.0, 0.0] if ab > 0 else [0.0, 1.0], details)
                    )
            return labels
        labels, with_reference = [], [i for i, item in enumerate(items) if item.reference]
        scored = (
            dict(
                zip(
                    with_reference,
                    self._logits(
                        [sources[i] for i in with_reference],
                        [items[i].contents[0] for i in with_reference],
                        [items[i].reference for i in with_reference],
                        "[A,B]+[B,A]",
                    ),
                    strict=True,
                )
            )
            if with_reference
            else {}
        )
        for index, item in enumerate(items):
            if index in scored:
                labels.append(self.make_label(item, [scored[index]], {"against": "reference"}))
            else:
                labels.append(
                    self.make_label(
                        item, None, error="no_reference: the prompt has no reference answer"
                    )
                )
        return labels

    def _rank(self, item: Item, source: str) -> Label:
        """Scores aligned with the item's candidates (its order is the label's identity);
        higher is better, as for every ranking label."""
        scores = self.blender.rank(
            [source], [item.contents], return_scores=True, disable_tqdm=True, **self._lengths()
        )[0]
        return self.make_label(item, [float(score) for score in scores])
