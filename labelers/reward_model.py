"""`reward_model`: a transformers sequence-classification reward model scores each candidate.

    prefsmith label --labeler reward_model --model OpenAssistant/reward-model-deberta-v3-large-v2
    prefsmith label --labeler reward_model --model ./my-rm --input-format hh

Input formats: `pair` (question and answer as a text pair: the OpenAssistant
reward-model family), `chat` (the tokenizer's chat template), `hh` (the hh-rlhf
`\\n\\nHuman: … \\n\\nAssistant: …` text); `auto` picks chat when the tokenizer has
a template, else pair for DeBERTa reward models, else hh. The score is the single
logit, or the logit of `--label`. Too long inputs lose their oldest prompt turns
first, then the start of what remains of the prompt; the answer is kept (its end
is cut only if the answer alone is longer than --max-length), and the details say
what was cut.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from prefsmith.endpoints.weights import (
    has_chat_template,
    import_torch,
    model_identity,
    read_config,
    resolve_device,
    resolve_dtype,
    trained_pairs,
)
from prefsmith.labelers.base import Item, Labeler, TorchOptions
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, render_dialogue

KEPT_TOKEN_IDS = 8_000_000


class RewardModelOptions(TorchOptions):
    model: str = Field(description="Model: a Hub id or a local folder.")
    input_format: Literal["auto", "pair", "chat", "hh"] = Field(
        default="auto", description="How a prompt and a response are given to the model"
    )
    label: str | None = Field(
        default=None, description="The output label to read, for a multi-label model."
    )
    max_length: int = Field(
        default=512, description="Tokens per input (longer inputs are cut, answer kept)."
    )


class RewardModelLabeler(Labeler):
    key = "reward_model"
    unit = "candidate"
    kind = "score"
    Options = RewardModelOptions
    options: RewardModelOptions

    def __init__(self, options: RewardModelOptions) -> None:
        super().__init__(options)
        self._identity = model_identity(options.model)
        self.model: Any = None
        self.tokenizer: Any = None
        self._token_ids: dict[tuple[str, ...], Any] = {}  # batch_lengths' ids, for label_batch

    def trained_pairs(self) -> str | None:
        found = trained_pairs(self.options.model)
        return str(found) if found is not None else None

    def fingerprint_parts(self) -> dict[str, Any]:
        o = self.options
        return {
            **self._identity,
            "input_format": self.input_format,
            "label": o.label,
            "max_length": o.max_length,
        }

    @property
    def input_format(self) -> str:
        if self.options.input_format != "auto":
            return self.options.input_format
        config = read_config(self.options.model)
        if self.tokenizer is not None and getattr(self.tokenizer, "chat_template", None):
            return "chat"
        if self.tokenizer is None and has_chat_template(self.options.model):
            return "chat"  # decided the same before load: the fingerprint must not move
        architectures = " ".join(config.get("architectures", [])) or self.options.model
        return "pair" if "Deberta" in architectures or "deberta" in architectures else "hh"

    def load(self) -> None:
        if self.model is not None:
            return
        torch = import_torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        device = resolve_device(self.options.device)
        try:
            self.tokenizer = quiet_lengths(AutoTokenizer.from_pretrained(self.options.model))
            self.model = AutoModelForSequenceClassification.from_pretrained(
                self.options.model, dtype=resolve_dtype(self.options.dtype, device)
            )
        except OSError as error:
            raise UserError(
                f"--model {self.options.model}: cannot load a reward model ({str(error).splitlines()[0]})"
            ) from None
        self.model.to(device).eval()
        self.device = device
        labels = self.model.config.id2label or {}
        if self.options.label is not None:
            names = {name: index for index, name in labels.items()}
            if self.options.label not in names:
                raise UserError(
                    f"--label {self.options.label}: the model's labels are {', '.join(names.values())}"
                )
            self.index = names[self.options.label]
        elif self.model.config.num_labels != 1:
            raise UserError(
                f"{self.options.model} has {self.model.config.num_labels} labels; pass --label NAME"
            )
        else:
            self.index = 0
        self.torch = torch

    def encode(
        self, messages: list[dict[str, str]], answer: str
    ) -> tuple[list[int], dict[str, Any]]:
        """Token ids of a prompt and its answer as this labeler scores them, cut to max_length
        keeping the answer; and what was cut. `prefsmith train rm` trains on the same ids."""
        return self._encode(Item("", messages, [""], [answer]))

    def _encode(self, item: Item) -> tuple[list[int], dict[str, Any]]:
        """Token ids of one item, cut to max_length keeping the answer; and what was cut."""
        answer, messages = item.contents[0], list(item.messages)
        budget, details = self.options.max_length, {}
        while True:
            ids = self._tokens(messages, answer)
            if len(ids) <= budget or len(messages) <= 1:
                break
            messages = messages[1:]  # the oldest turn goes first
            details["dropped_turns"] = details.get("dropped_turns", 0) + 1
        if len(ids) > budget:
            ids, details = self._cut_prompt_text(messages, answer, details)
        return ids, details

    def _tokens(self, messages: list[dict[str, str]], answer: str) -> list[int]:
        return self._tokens_many([(messages, answer)])[0]

    def _tokens_many(self, inputs: list[tuple[list[dict[str, str]], str]]) -> list[list[int]]:
        """Token ids of (prompt messages, answer) inputs, in one tokenizer call."""
        tokenizer, fmt = self.tokenizer, self.input_format
        if fmt == "pair":
            prompts = [render_dialogue(messages) for messages, _ in inputs]
            return tokenizer(prompts, [answer for _, answer in inputs], truncation=False)[
                "input_ids"
            ]
        if fmt == "chat":
            return [
                tokenizer.apply_chat_template(
                    [*messages, {"role": "assistant", "content": answer}],
                    tokenize=True,
                    return_dict=False,
                )
                for messages, answer in inputs
            ]
        texts = ["\n\n" + render_dialogue(m) + "\n\nAssistant: " + a for m, a in inputs]
        return tokenizer(texts, truncation=False)["input_ids"]

    def _cut_prompt_text(self, messages, answer: str, details: dict[str, Any]):
        """The last prompt turn is too long as well: keep its end, and all of the answer."""
        budget = self.options.max_length
        last = messages[-1]["content"]
        answer_ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
        if len(answer_ids) >= budget - 8:  # nothing of the prompt fits: cut the answer's end
            answer = self.tokenizer.decode(answer_ids[: budget // 2])
            details["answer_truncated"] = True
        words = last.split()
        low, high = 0, len(words)
        while low < high:  # the longest tail of the last turn that fits
            middle = (low + high) // 2
            trial = [{**messages[-1], "content": " ".join(words[middle:])}]
            if len(self._tokens(trial, answer)) <= budget:
                high = middle
            else:
                low = middle + 1
        details["prompt_words_cut"] = low
        ids = self._tokens([{**messages[-1], "content": " ".join(words[low:])}], answer)
        return ids[:budget], details

    def batch_lengths(self, items: list[Item]) -> list[int]:
        """Token counts, cut at max_length as `label_batch` cuts them; one tokenizer call per
        1024 items. The ids of items that fit are kept for `label_batch` up to
        `KEPT_TOKEN_IDS` tokens (int32: 32 MB); past that only the counts are kept (a
        million items: a list of ints), and those items are tokenized again when labeled."""
        lengths, budget = [], KEPT_TOKEN_IDS
        self._token_ids.clear()
        for start in range(0, len(items), 1024):
            chunk = items[start : start + 1024]
            try:
                found = self._tokens_many([(list(i.messages), i.contents[0]) for i in chunk])
            except Exception:  # an odd item: label_batch finds and reports it
                found = [None] * len(chunk)
            for item, ids in zip(chunk, found, strict=True):
                count = self.options.max_length if ids is None else len(ids)
                lengths.append(min(count, self.options.max_length))
                if ids is not None and count <= self.options.max_length and count <= budget:
                    self._token_ids[_item_key(item)] = np.asarray(ids, dtype=np.int32)
                    budget -= count
        return lengths

    def label_batch(self, items: list[Item]) -> list[Label]:
        kept = [self._token_ids.pop(_item_key(item), None) for item in items]
        rest = [i for i, ids in enumerate(kept) if ids is None]
        try:  # the common case: everything fits, one tokenizer call for what was not kept
            found = (
                []
                if not rest
                else self._tokens_many(
                    [(list(items[i].messages), items[i].contents[0]) for i in rest]
                )
            )
        except Exception:
            found = [None] * len(rest)  # tokenize one by one below, to find the odd item
        whole = list(kept)
        for i, ids in zip(rest, found, strict=True):
            whole[i] = ids
        encoded, failed = [], {}
        for i, item in enumerate(items):
            if whole[i] is not None and len(whole[i]) <= self.options.max_length:
                encoded.append((whole[i], {}))
                continue
            try:
                encoded.append(self._encode(item))
            except Exception as error:  # one odd input must not cost the batch
                failed[i] = f"encode_error: {type(error).__name__}: {error}"[:300]
                encoded.append(([], {}))
        order = sorted(
            (i for i in range(len(items)) if i not in failed), key=lambda i: len(encoded[i][0])
        )
        scores: dict[int, float] = {}
        self._score([encoded[i][0] for i in order], order, scores, len(order))
        labels = []
        for i, item in enumerate(items):
            details = {"tokens": len(encoded[i][0]), **encoded[i][1]}
            if i in failed:
                labels.append(self.make_label(item, None, details, error=failed[i]))
            elif i in scores:
                labels.append(self.make_label(item, [scores[i]], details))
            else:
                labels.append(
                    self.make_label(item, None, details, error="out_of_memory: even one item")
                )
        return labels

    def _score(
        self, sequences: list[list[int]], positions: list[int], out: dict[int, float], size: int
    ) -> None:
        """Forward passes over length-sorted sequences; on CUDA OOM the batch is halved."""
        torch = self.torch
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(sequences), size):
            chunk, where = sequences[start : start + size], positions[start : start + size]
            width = max(map(len, chunk))
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, ids in enumerate(chunk):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                attention[row, : len(ids)] = 1
            try:
                with torch.inference_mode():
                    logits = self.model(
                        input_ids=input_ids.to(self.device),
                        attention_mask=attention.to(self.device),
                    ).logits
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if size == 1:
                    continue  # this item stays unscored: a transient error, retried next run
                self._score(chunk, where, out, max(1, size // 2))
                continue
            for index, value in zip(where, logits[:, self.index].float().tolist(), strict=True):
                out[index] = value


def _item_key(item: Item) -> tuple[str, ...]:
    return (item.prompt_id, *item.candidate_ids)


def quiet_lengths(tokenizer: Any) -> Any:
    """Mark transformers' "sequence length is longer than the maximum" warning as shown: the
    caller cuts every sequence to its own budget (and counts what it cut)."""
    warned = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(warned, dict):
        warned["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tokenizer
