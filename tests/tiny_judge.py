"""A tiny random chat model that can grade: at the answer position of a chat prompt its
first token is one of the digits 1-5 with clearly unequal probabilities (so that the
expected score of a `single-logprob` judgment varies from answer to answer and never
ties), and otherwise it writes random words."""

from __future__ import annotations

from pathlib import Path

DIGIT_LOGITS = (6.0, 6.3, 6.9, 7.2, 6.6)  # asymmetric: the expectation isn't always 3


def make_tiny_judge(base: Path, path: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    chat = [{"role": "user", "content": "Score this answer."}]
    ids = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        hidden = model.model(ids).last_hidden_state[0, -1]
        for digit, logit in zip("12345", DIGIT_LOGITS, strict=True):
            (index,) = tokenizer.encode(digit, add_special_tokens=False)
            model.lm_head.weight[index] = hidden * (logit / hidden.dot(hidden))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
