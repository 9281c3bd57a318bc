"""The labeler contract, shared by every labeler.

A labeler declares the unit it labels (one candidate, a pair, or all candidates
of a prompt), the label kind it produces, and a fingerprint: the hash of
everything that changes its output. `label_batch` returns one `Label` per item,
in order; a failure on one item is that item's `error`, never the batch's
exception. Heavy imports happen in `load()`.

Errors come in two sorts. A *final* one (unparseable output, an empty answer)
is that item's label, stored and not paid for again. A *transient* one (out of
memory, a timeout, a refused connection) is reported but not stored, so the
next run tries the item again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefsmith.schemas import ids
from prefsmith.schemas.records import Label

TRANSIENT_ERRORS = (
    "out_of_memory", "timeout", "connection_error", "rate_limited", "server_error",
    "bad_response", "labeler_error", "budget", "batch_pending",
)  # fmt: skip


def is_transient(error: str | None) -> bool:
    return bool(error) and error.split(":", 1)[0] in TRANSIENT_ERRORS


@dataclass(frozen=True, slots=True)
class Item:
    """What a labeler sees: a prompt and the candidate(s) to judge."""

    prompt_id: str
    messages: list[dict[str, str]]
    candidate_ids: list[str]
    contents: list[str]
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class LabelerOptions(BaseModel):
    """Options shared by every labeler; each labeler extends it with its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
    name: str | None = Field(
        default=None, description="Name stored with the labels (default: the labeler)."
    )
    batch_size: int | None = Field(
        default=None,
        description="Items per forward pass or request batch (default: the labeler's).",
    )


class Labeler(ABC):
    key: ClassVar[str]  # registry key: reward_model, yes_no, ...
    unit: ClassVar[str]  # "candidate" | "pair" | "prompt"
    kind: ClassVar[str]  # label kind: score | pairwise | ranking | critique
    Options: ClassVar[type[LabelerOptions]] = LabelerOptions
    chunk_batches: ClassVar[int] = 8  # batches per store write: a killed run loses at most this

    def __init__(self, options: LabelerOptions) -> None:
        self.options = options

    @property
    def name(self) -> str:
        return self.options.name or self.key

    @property
    def batch_size(self) -> int:
        return self.options.batch_size or 16

    @abstractmethod
    def fingerprint_parts(self) -> dict[str, Any]:
        """Everything that changes the output: model identity, templates, parameters."""

    def trained_pairs(self) -> str | list[str] | None:
        """The file(s) of pair ids this labeler's model was trained on (a model prefsmith
        trained), so evaluations leave those pairs out; None for any other labeler."""
        return None

    def fingerprint(self) -> str:
        return ids.fingerprint(labeler=self.key, **self.fingerprint_parts())

    def label_id(self, item: Item) -> str:
        return ids.label_id(item.candidate_ids, self.name, self.fingerprint())

    def skip_reason(self, item: Item) -> str | None:
        """Why this item has nothing to label (a verifier's prompt without a reference:
        `no_reference`), counted in the run summary and never stored; None to label it."""
        return None

    def batch_lengths(self, items: list[Item]) -> list[int] | None:
        """Each item's length in what the model pays for (its tokens), after `load`, so the
        run batches equal lengths together; None keeps the runner's character count."""
        return None

    def prepare(self, store: Any) -> None:  # noqa: B027 - optional hook
        """Read what labeling needs from the store (another labeler's scores); before load."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load models, once (later calls do nothing); called only when there is work."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what `load` started (a server); called when the run ends, even on error."""

    def use_budget(self, max_usd: float) -> Any:
        """Cap what this run may spend (`--max-cost`); only labelers that call a paid
        endpoint take one. Returns the `Budget`."""
        from prefsmith.schemas.errors import UserError

        raise UserError(f"--max-cost: the {self.key} labeler calls no paid endpoint")

    def summary(self, labels: list[Label]) -> dict[str, Any]:
        """Figures of this run's labels to add to the run summary (e.g. a judge's consistency)."""
        return {}

    @abstractmethod
    def label_batch(self, items: list[Item]) -> list[Label]:
        """One label per item, in order."""

    def make_label(
        self,
        item: Item,
        scores: list[float] | None,
        details: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Label:
        return Label(
            labeler=self.name,
            fingerprint=self.fingerprint(),
            kind=self.kind,
            prompt_id=item.prompt_id,
            candidate_ids=list(item.candidate_ids),
            scores=scores,
            details=details or {},
            error=error,
        )


class TorchOptions(LabelerOptions):
    """Options of the labelers that run a torch model here."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where the model runs"
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="Weights' precision"
    )
