"""Reading a built dataset (STORE/datasets/NAME) for training.

Preference data arrives in any of the builder's formats and is normalised to
(prompt messages, chosen answer, rejected answer) triples, so the reward model
is trained on exactly the inputs the `reward_model` labeler will build later. A triple
keeps the row's `margin` (None where the row has none): `train rm --margin` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefsmith.ingest.hh_rows import HHRowError, parse_pair, split_dialogue
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.formats import ROW_FORMATS
from prefsmith.store import Store, load_manifest


@dataclass(frozen=True, slots=True)
class PreferenceTriple:
    messages: list[dict[str, str]]
    chosen: str
    rejected: str
    margin: float | None = None


def built_dataset(store: Store, name: str, kinds: tuple[str, ...]) -> tuple[dict, Path]:
    """The manifest and folder of a built dataset of one of `kinds` (UserError otherwise)."""
    manifest = load_manifest(store, name)
    if manifest["kind"] not in kinds:
        raise UserError(
            f"--dataset {name} is a {manifest['kind']} dataset; this needs {' or '.join(kinds)}"
        )
    fmt = manifest["config"].get("format")
    if fmt in ROW_FORMATS and not ROW_FORMATS[fmt].columns:
        raise UserError(
            f"--dataset {name} is in the {fmt} format, which no local trainer reads "
            f"({ROW_FORMATS[fmt].note}); rebuild it with --format conversational for a local "
            "trainer, or use `prefsmith train openai`"
        )
    return manifest, store.root / "datasets" / name


def load_split(store: Store, name: str, split: str, kinds: tuple[str, ...]) -> Any | None:
    """One split as a `datasets.Dataset`, or None if the dataset has no such split."""
    manifest, folder = built_dataset(store, name, kinds)
    relative = manifest["data_files"].get(split)
    if relative is None:
        return None
    from datasets import Dataset

    return Dataset.from_parquet(str(folder / relative))


def preference_triples(rows: Any) -> list[PreferenceTriple]:
    """Triples of a preference or rm-pairs split, whatever its text format."""
    triples = []
    for row in rows:
        prompt, chosen, rejected = row.get("prompt"), row["chosen"], row["rejected"]
        margin = row.get("margin")
        margin = float(margin) if margin is not None else None
        if isinstance(prompt, list):  # conversational
            triples.append(
                PreferenceTriple(prompt, chosen[0]["content"], rejected[0]["content"], margin)
            )
        elif isinstance(prompt, str):  # standard: hh text ending in "Assistant:"
            dialogue = "\n\n" + prompt.removeprefix("\n\n").removesuffix("\n\nAssistant:")
            messages = split_dialogue(dialogue)
            triples.append(PreferenceTriple(messages, chosen.strip(), rejected.strip(), margin))
        else:  # rm-pairs: whole hh dialogues with an implicit prompt
            try:
                pair = parse_pair({"chosen": chosen, "rejected": rejected}, allow_empty=True)
            except HHRowError as error:
                raise UserError(f"an rm-pairs row could not be split: {error.reason}") from None
            triples.append(PreferenceTriple(pair.messages, pair.chosen, pair.rejected, margin))
    return triples
