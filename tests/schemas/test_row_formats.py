"""The row-format table is the one list: build choices, row functions, cards and trainers
all follow it, so a format added there and nowhere else fails here."""

from __future__ import annotations

import typing

import pytest

from prefsmith.builders.formats import COMPLETION_ROWS, PAIR_ROWS
from prefsmith.finetune.registry import TRAINERS
from prefsmith.schemas.builds import build_kinds
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.formats import ROW_FORMATS

MADE_APART = {"kto": "builders/formats.kto_rows", "token-rewards": "builders/token_rewards.py"}


def test_every_format_has_a_row_function_and_a_card_note():
    for name, fmt in ROW_FORMATS.items():
        made = name in PAIR_ROWS or name in COMPLETION_ROWS or name in MADE_APART
        assert made, f"{name}: no row function in builders/formats.py"
        assert fmt.note, f"{name}: the dataset card needs a note"
    assert set(PAIR_ROWS) | set(COMPLETION_ROWS) | set(MADE_APART) <= set(ROW_FORMATS)


def test_the_build_choices_are_the_table_s():
    for kind, model in build_kinds().items():
        choices = set(typing.get_args(model.model_fields["format"].annotation))
        assert choices == {n for n, f in ROW_FORMATS.items() if kind in f.builds}, kind


def test_every_trainer_reads_formats_with_columns():
    for name, trainer in TRAINERS.items():
        for fmt in trainer.formats:
            assert fmt in ROW_FORMATS and ROW_FORMATS[fmt].columns, (name, fmt)


@pytest.mark.slow
def test_a_trainer_given_a_format_it_cannot_read_says_so_in_one_line(hh_datasets, tmp_path):
    from prefsmith.builders.registry import build_dataset
    from prefsmith.schemas.trainers import PolicyTrainOptions

    build_dataset(
        hh_datasets, "preference",
        {"name": "hh-kto", "from_labelers": ["human:hh-rlhf"], "format": "kto"},
    )  # fmt: skip
    with pytest.raises(UserError, match="hh-kto is in the kto format; train dpo reads"):
        TRAINERS["dpo"].train(hh_datasets, "hh-kto", tmp_path / "x", PolicyTrainOptions())
