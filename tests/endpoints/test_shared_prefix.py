"""Shared-prefix forward passes give each sequence the logits it gets alone."""

import pytest

from prefsmith.endpoints.shared_prefix import last_logits_shared, split_prefixes


def alone(model, sequence):
    import torch

    with torch.inference_mode():
        return model(input_ids=torch.tensor([sequence])).logits[0, -1]


@pytest.mark.parametrize(
    "sequences, groups",
    [
        # a header, two candidates of different lengths asked three and one questions
        (
            [
                [1, 2, 3, 10, 11, 12, 13, 40, 41],
                [1, 2, 3, 10, 11, 12, 13, 50],
                [1, 2, 3, 10, 11, 12, 13, 60, 61, 62],
                [1, 2, 3, 20, 40, 41],
            ],
            [0, 0, 0, 1],
        ),
        # no common header at all; one candidate's questions share its text
        ([[5, 6, 7, 8, 9, 30], [5, 6, 7, 8, 9, 31, 32], [70, 71]], [0, 0, 1]),
        # every group's text is the header: only the questions differ
        ([[1, 2, 3, 4, 40], [1, 2, 3, 4, 41, 42], [1, 2, 3, 4, 43]], [0, 0, 1]),
    ],
)
def test_each_sequence_gets_the_logits_it_gets_alone(tiny_chat_model, sequences, groups):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model).eval()
    assert split_prefixes(sequences, groups)[2] > 0  # the shared path is the one tested
    with torch.inference_mode():
        shared = last_logits_shared(model, sequences, groups, pad=0, device="cpu")
    for row, sequence in enumerate(sequences):
        assert torch.allclose(shared[row], alone(model, sequence), atol=1e-5)


def test_prefix_split_keeps_the_last_token_of_each_sequence_out():
    header, prefix, saved = split_prefixes([[1, 2, 3], [1, 2, 3], [1, 2, 4]], [0, 0, 1])
    assert (header, prefix) == (2, {0: 2, 1: 2})
    assert saved == 2 * 2
