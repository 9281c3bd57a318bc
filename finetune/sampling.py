"""Answers from a local policy checkpoint with transformers (for evaluation): batched,
left-padded, seeded. Chat prompts go through the tokenizer's chat template; text prompts
(reward-conditioned ones) are continued as they are, the way SFT saw them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefsmith.schemas.errors import UserError


class PolicySampler:
    def __init__(self, model: str, *, device: str = "auto", max_new_tokens: int = 64) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from prefsmith.endpoints.weights import resolve_device

        self.torch, self.device = torch, resolve_device(device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
            self.model = AutoModelForCausalLM.from_pretrained(model).to(self.device).eval()
        except OSError as error:
            raise UserError(
                f"{model}: cannot load a policy ({str(error).splitlines()[0]})"
            ) from None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_new_tokens = max_new_tokens

    def _text(self, prompt: str | Sequence[dict[str, str]]) -> str:
        if isinstance(prompt, str):
            return prompt
        return self.tokenizer.apply_chat_template(
            list(prompt), tokenize=False, add_generation_prompt=True
        )

    def answers(self, prompts: Sequence[Any], *, batch_size: int = 8, seed: int = 0) -> list[str]:
        """Greedy answers, in order; the same inputs always give the same answers."""
        torch = self.torch
        torch.manual_seed(seed)
        texts = [self._text(p) for p in prompts]
        out: list[str] = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                texts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new = generated[:, batch["input_ids"].shape[1] :]
            out += [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
        return out
