"""Next-token logits for many sequences, each shared prefix computed once.

ZYN asks several questions about each candidate, and a chat template puts the
same system header before every one of them. A sequence is

    header (shared by the batch) | text (shared by one candidate's questions) | question

so a batch runs in up to three forward passes over a growing KV cache: the header
once, each candidate's text once, then only the questions. The cache rows are
repeated where a prefix fans out, padding sits in the middle of a row (masked),
and positions follow the real tokens, so each sequence gets the logits it would
get alone (up to float rounding).
"""

from __future__ import annotations

from typing import Any

# Below this fraction of the tokens saved, one plain pass is cheaper than three.
MIN_SAVED_FRACTION = 0.1


def shared_prefix(sequences: list[list[int]]) -> int:
    """Tokens all sequences start with, leaving every sequence at least one of its own."""
    first, shortest = sequences[0], min(map(len, sequences))
    for index in range(shortest - 1):
        token = first[index]
        if any(sequence[index] != token for sequence in sequences):
            return index
    return max(shortest - 1, 0)


def left_padded(torch: Any, rows: list[list[int]], pad: int) -> tuple[Any, Any]:
    """Token ids and attention mask with the rows right-aligned: the last position is real."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, tokens in enumerate(rows):
        if tokens:
            ids[row, width - len(tokens) :] = torch.tensor(tokens)
            mask[row, width - len(tokens) :] = 1
    return ids, mask


def split_prefixes(
    sequences: list[list[int]], groups: list[int]
) -> tuple[int, dict[int, int], int]:
    """(header length, prefix length per group, tokens saved by sharing them); every
    sequence keeps at least its last token out of them, since the logits are read there."""
    header = shared_prefix(sequences)
    members: dict[int, list[list[int]]] = {}
    for sequence, group in zip(sequences, groups, strict=True):
        members.setdefault(group, []).append(sequence)
    prefix = {  # a lone sequence gains nothing from a pass of its own over its text
        group: max(header, shared_prefix(rows)) if len(rows) > 1 else header
        for group, rows in members.items()
    }
    saved = header * (len(sequences) - 1) + sum(
        (len(rows) - 1) * (prefix[group] - header) for group, rows in members.items()
    )
    return header, prefix, saved


def last_logits(model: Any, sequences: list[list[int]], pad: int, device: str) -> Any:
    """Logits after each sequence, one left-padded pass (the plain way)."""
    import torch

    ids, mask = left_padded(torch, sequences, pad)
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)
    return out.logits[:, -1]


def last_logits_shared(
    model: Any, sequences: list[list[int]], groups: list[int], pad: int, device: str
) -> Any:
    """Logits after each sequence of a decoder-only model; `groups[i]` names the sequences
    expected to share a longer prefix (the questions about one candidate)."""
    import torch

    header, prefix, saved = split_prefixes(sequences, groups)
    if saved < MIN_SAVED_FRACTION * sum(map(len, sequences)):
        return last_logits(model, sequences, pad, device)
    order = list(dict.fromkeys(groups))
    cache, mask = None, torch.ones((1, 0), dtype=torch.long, device=device)

    def step(rows: list[list[int]], fan_out: list[int] | None) -> Any | None:
        nonlocal cache, mask
        if fan_out is not None:
            index = torch.tensor(fan_out, device=device)
            mask = mask[index]
            if cache is not None:
                cache.batch_select_indices(index)
        if not any(rows):
            return None
        ids, new = left_padded(torch, rows, pad)
        mask = torch.cat([mask, new.to(device)], dim=-1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -ids.shape[1] :]
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        cache = out.past_key_values
        return out.logits[:, -1]

    if header:
        step([sequences[0][:header]], None)
    first = {group: sequences[groups.index(group)] for group in order}
    step([first[group][header : prefix[group]] for group in order], [0] * len(order))
    position = {group: row for row, group in enumerate(order)}
    return step(
        [sequence[prefix[group] :] for sequence, group in zip(sequences, groups, strict=True)],
        [position[group] for group in groups],
    )
