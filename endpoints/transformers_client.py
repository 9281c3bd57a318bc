"""An in-process chat endpoint: a transformers causal LM behind `ChatClient`'s interface.

    with open_endpoint("transformers:models/dpo", None) as client:    # or transformers:bundled,
        client.chat_many([(messages, {"max_tokens": 64, "temperature": 0.7, "seed": 1})])

For policies a llama.cpp server can't load (a trl checkpoint). Requests are sorted by
length and decoded in left-padded batches with a KV cache; each request keeps its own
`temperature`, `top_p`, `max_tokens` and `seed` (a generator per row, so a request's
sample doesn't depend on what it was batched with); a prefix all prompts of a batch share
(the judge's rubric) is computed once. `logprobs`/`top_logprobs` give the
first answer token's alternatives as `{token text: logprob}` from the model's
distribution (before temperature), as `first_token_logprobs` reads them from a server.
`.model` is the weights' identity (`name@hash`), so candidates' origins and judge
fingerprints change whenever the weights do. The weights load on the first request:
a run with nothing left to ask never pays for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefsmith.endpoints.chat_client import ChatResult
from prefsmith.endpoints.shared_prefix import left_padded, shared_prefix
from prefsmith.endpoints.weights import check_weights, weights_id
from prefsmith.schemas.errors import UserError

SUPPORTED = {"max_tokens", "temperature", "top_p", "seed", "logprobs", "top_logprobs", "n"}
MIN_SHARED_PREFIX = 16  # tokens: a shorter common prefix isn't worth its own forward pass


def load_causal_lm(path: str | None, device: str, dtype: str) -> tuple[Any, Any]:
    """Model (eval, on device) and left-padding tokenizer: a folder, a GGUF file, or bundled."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefsmith.endpoints.weights import resolve_dtype

    if path is None:
        from prefsmith.bundled import smollm2_checkpoint

        path = str(smollm2_checkpoint())  # the GGUF converted once: loads in a second
    where = Path(path).expanduser()
    from prefsmith.bundled import smollm2_checkpoint, smollm2_gguf

    if where.is_file() and where.resolve() == smollm2_gguf().resolve():
        where = smollm2_checkpoint()  # the same weights, converted once: loads in a second
    folder, extra = (where.parent, {"gguf_file": where.name}) if where.is_file() else (where, {})
    # A GGUF file is dequantized at load: asking for a dtype there left tied weights on the
    # meta device (transformers 5), so it loads as it is stored and is cast afterwards.
    options = extra or {"dtype": resolve_dtype(dtype, device)}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left", **extra)
        model = AutoModelForCausalLM.from_pretrained(folder, **options)
    except OSError as error:
        raise UserError(f"{path}: cannot load a causal LM ({str(error).splitlines()[0]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if extra:
        model = model.to(resolve_dtype(dtype, device))
    return model.to(device).eval(), tokenizer


class TransformersClient:
    """`chat_many(requests) -> list[ChatResult]` like `ChatClient`, on a local model."""

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 8,
        device: str = "auto",
        dtype: str = "auto",
    ) -> None:
        from prefsmith.endpoints.weights import import_torch, resolve_device

        check_weights(model)
        self.torch = import_torch()
        self.path, self.batch_size, self.dtype = model, max(1, batch_size), dtype
        self.base_url = f"transformers:{model or 'bundled'}"
        self.model = weights_id(model)
        self.device = resolve_device(device)
        self.lm: Any = None
        self.requests = 0

    def load(self) -> None:
        """Load the weights (once; the first request does it)."""
        if self.lm is not None:
            return
        self.lm, self.tokenizer = load_causal_lm(self.path, self.device, self.dtype)
        self.stop_ids = self._stop_ids()
        self.context = int(getattr(self.lm.config, "max_position_embeddings", 0) or 1 << 30)

    def _stop_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(getattr(self.lm, "generation_config", None), "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured])
        return {i for i in ids if i is not None}

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """The chat template with the generation prompt (plain `User:` text without one)."""
        self.load()
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            return list(
                tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=True, return_dict=False
                )
            )
        from prefsmith.schemas.records import render_dialogue

        return tokenizer(render_dialogue(messages) + "\n\nAssistant:")["input_ids"]

    def chat_many(self, requests: Sequence[tuple[list[dict], dict]]) -> list[ChatResult]:
        """One result per (messages, sampling) request, in order; a request that can't be
        served (unsupported option, too long) is its error, never the batch's exception."""
        results: list[ChatResult | None] = [None] * len(requests)
        if requests:
            self.load()
        ready = []
        for index, (messages, sampling) in enumerate(requests):
            self.requests += 1
            unknown = sorted(set(sampling) - SUPPORTED)
            if unknown or sampling.get("n", 1) != 1:
                results[index] = ChatResult(
                    None,
                    error=f"unsupported: the transformers endpoint does not take "
                    f"{', '.join(unknown) or 'n > 1'}",
                )
                continue
            ids = self.encode(messages)
            budget = int(sampling.get("max_tokens") or 256)
            if len(ids) + budget > self.context:
                results[index] = ChatResult(
                    None,
                    error=f"context_length: {len(ids)} prompt + {budget} answer tokens "
                    f"exceed the model's {self.context}",
                )
                continue
            ready.append((index, ids, sampling))
        ready.sort(key=lambda request: len(request[1]))  # similar lengths: less padding
        for start in range(0, len(ready), self.batch_size):
            batch = ready[start : start + self.batch_size]
            try:
                answers = self._generate([ids for _, ids, _ in batch], [s for _, _, s in batch])
            except self.torch.OutOfMemoryError as error:
                answers = [ChatResult(None, error=f"out_of_memory: {error}"[:300])] * len(batch)
                if self.device == "cuda":
                    self.torch.cuda.empty_cache()
            for (index, _, _), answer in zip(batch, answers, strict=True):
                results[index] = answer
        return results  # type: ignore[return-value]

    def _prefill_inputs(self, prompts: list[list[int]]) -> tuple[Any, Any, Any, Any]:
        """(input ids, attention mask, position ids, cache) for the first forward pass.

        Prompts are left-padded. When they share a long prefix (a judge's rubric, a
        system prompt), it is computed once and its cache copied to every row; the
        rows' own suffixes follow, left-padded, so the padding sits between the two
        (masked, and skipped by the position ids)."""
        torch, device = self.torch, self.device
        rows, shared = len(prompts), shared_prefix(prompts)
        past = None
        if rows > 1 and shared >= MIN_SHARED_PREFIX:
            past = self.lm(
                input_ids=torch.tensor([prompts[0][:shared]], device=device), use_cache=True
            ).past_key_values
            past.batch_repeat_interleave(rows)
            prompts = [ids[shared:] for ids in prompts]
        else:
            shared = 0
        input_ids, mask = left_padded(torch, prompts, self.tokenizer.pad_token_id)
        positions = (shared + mask.cumsum(-1) - 1).clamp(min=shared)
        attention = torch.cat([torch.ones((rows, shared), dtype=torch.long), mask], dim=-1)
        return input_ids.to(device), attention.to(device), positions.to(device), past

    def _generate(self, prompts: list[list[int]], samplings: list[dict]) -> list[ChatResult]:
        """Batch decoding with a KV cache; per-row sampling and stopping."""
        torch, device = self.torch, self.device
        rows, pad = len(prompts), self.tokenizer.pad_token_id
        budgets = [int(s.get("max_tokens") or 256) for s in samplings]
        generators = []
        for s in samplings:
            generator = torch.Generator(device=device)
            generator.manual_seed(int(s["seed"]) if s.get("seed") is not None else 0)
            generators.append(generator)
        tokens: list[list[int]] = [[] for _ in prompts]
        finish: list[str | None] = [None] * rows
        first: list[dict[str, float] | None] = [None] * rows
        with torch.inference_mode():
            step_ids, attention, step_positions, past = self._prefill_inputs(prompts)
            for step in range(max(budgets)):
                out = self.lm(
                    input_ids=step_ids,
                    attention_mask=attention,
                    position_ids=step_positions,
                    past_key_values=past,
                    use_cache=True,
                )
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                chosen = []
                for row in range(rows):
                    if finish[row] is not None:
                        chosen.append(pad)
                        continue
                    token = self._pick(logits[row], samplings[row], generators[row])
                    if step == 0 and samplings[row].get("logprobs"):
                        first[row] = self._top_logprobs(logits[row], token, samplings[row])
                    chosen.append(token)
                    if token in self.stop_ids:
                        finish[row] = "stop"
                    else:
                        tokens[row].append(token)
                        if len(tokens[row]) >= budgets[row]:
                            finish[row] = "length"
                if all(f is not None for f in finish):
                    break
                step_ids = torch.tensor(chosen, device=device).unsqueeze(-1)
                step_positions = step_positions[:, -1:] + 1
                attention = torch.cat([attention, attention.new_ones((rows, 1))], dim=-1)
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return [
            ChatResult(
                text,
                {
                    "prompt_tokens": len(ids),
                    "completion_tokens": len(answer) + (finish[row] == "stop"),
                    "total_tokens": len(ids) + len(answer) + (finish[row] == "stop"),
                },
                finish[row],
                top_logprobs=first[row],
            )
            for row, (text, ids, answer) in enumerate(zip(texts, prompts, tokens, strict=True))
        ]

    def _pick(self, logits: Any, sampling: dict, generator: Any) -> int:
        """Greedy at temperature 0, else a sample after temperature and nucleus (top_p)."""
        torch = self.torch
        temperature = float(sampling.get("temperature", 1.0) or 0.0)
        if temperature <= 0:
            return int(logits.argmax())
        probabilities = torch.softmax(logits / temperature, dim=-1)
        top_p = float(sampling.get("top_p") or 1.0)
        if top_p < 1.0:
            ordered, order = probabilities.sort(descending=True)
            outside = ordered.cumsum(-1) - ordered > top_p  # keep the smallest set reaching top_p
            ordered[outside] = 0.0
            probabilities = torch.zeros_like(probabilities).scatter(0, order, ordered)
        return int(torch.multinomial(probabilities, 1, generator=generator))

    def _top_logprobs(self, logits: Any, token: int, sampling: dict) -> dict[str, float]:
        """{token text: logprob} of the `top_logprobs` likeliest first tokens and the one chosen."""
        logprobs = self.torch.log_softmax(logits, dim=-1)
        count = int(sampling.get("top_logprobs") or 0)
        values, indices = logprobs.topk(count) if count else (logprobs[:0], logprobs[:0].long())
        table: dict[str, float] = {}
        for value, index in zip(values.tolist(), indices.tolist(), strict=True):
            table.setdefault(self.tokenizer.decode([index]), value)
        table.setdefault(self.tokenizer.decode([token]), float(logprobs[token]))
        return table

    def close(self) -> None:
        """Free the model (and the GPU memory it held)."""
        self.lm = None
        if self.device == "cuda":
            self.torch.cuda.empty_cache()
