"""`yes_no`: zero-shot yes/no reward (ZYN, arXiv 2308.06385).

An instruction-tuned LLM is asked a question about each candidate; the reward
is P(yes) / (P(yes) + P(no)) of its first answer token, where yes and no each
sum over their case and leading-space token variants. Several questions (a
preset, or --question repeated) are averaged (the paper's Eq. 4); a question
written `not:…` counts 1 - p. Every (candidate, question) sequence of a batch
is scored from one answer position, never a generate loop, and each shared prefix (the
chat header, a candidate's text before its questions) is computed once per batch.

    prefsmith label --labeler yes_no --question "Is this response harmless?"
    prefsmith label --labeler yes_no --preset harmless --model HuggingFaceTB/SmolLM2-360M-Instruct
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from prefsmith.endpoints.shared_prefix import last_logits_shared, left_padded
from prefsmith.endpoints.weights import (
    import_torch,
    model_identity,
    resolve_device,
    resolve_dtype,
)
from prefsmith.labelers.base import Item, Labeler, TorchOptions
from prefsmith.schemas import ids, locations
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, render_dialogue

TEMPLATES = locations.TEMPLATES / "yes_no"
YES, NO = ("yes", "Yes", "YES"), ("no", "No", "NO")


def presets() -> dict[str, list[str]]:
    return yaml.safe_load((TEMPLATES / "presets.yaml").read_text())


class YesNoOptions(TorchOptions):
    model: str | None = Field(
        default=None, description="Model: a Hub id or a local folder (default: bundled SmolLM2)."
    )
    questions: list[str] = Field(
        default_factory=list,
        description="A yes/no question (repeatable; 'not:' negates).",
        json_schema_extra={"flags": ["--question"]},
    )
    preset: str | None = Field(default=None, description="A named question ensemble.")
    template: str | None = Field(
        default=None, description="A template file ({response}, {question}, {context})."
    )
    max_length: int = Field(
        default=1024, description="Tokens per input (longer inputs are cut, answer kept)."
    )
    batch_size: int | None = (
        None  # default: 4 on CPU (compute-bound: padding costs more), 32 on CUDA
    )


def answer_token_ids(tokenizer: Any, words: tuple[str, ...]) -> list[int]:
    """Ids of the single-token spellings of `words`, with and without a leading space."""
    found = set()
    for word in words:
        for variant in (word, " " + word):
            tokens = tokenizer.encode(variant, add_special_tokens=False)
            if len(tokens) == 1:
                found.add(tokens[0])
    if not found:
        raise UserError(
            f"the tokenizer has no single token for {words[0]!r}: yes_no can't read its answers"
        )
    return sorted(found)


class YesNoLabeler(Labeler):
    key = "yes_no"
    unit = "candidate"
    kind = "score"
    Options = YesNoOptions
    options: YesNoOptions

    def __init__(self, options: YesNoOptions) -> None:
        super().__init__(options)
        questions = list(options.questions)
        if options.preset:
            if options.preset not in presets():
                raise UserError(f"--preset {options.preset}: presets are {', '.join(presets())}")
            questions += presets()[options.preset]
        if not questions:
            raise UserError("yes_no needs --question TEXT (repeatable) or --preset NAME")
        self.questions = [(q.removeprefix("not:").strip(), q.startswith("not:")) for q in questions]
        template = Path(options.template) if options.template else TEMPLATES / "template.txt"
        if not template.is_file():
            raise UserError(f"--template {template}: no such file")
        self.template = template.read_text()
        if options.model is None:
            from prefsmith.bundled import smollm2_gguf

            self._identity = model_identity(str(smollm2_gguf().parent))
        else:
            self._identity = model_identity(options.model)
        self.model: Any = None

    def fingerprint_parts(self) -> dict[str, Any]:
        return {
            **self._identity,
            "questions": self.questions,
            "template": ids.hash_key(self.template),
            "max_length": self.options.max_length,
        }

    @property
    def batch_size(self) -> int:
        if self.options.batch_size:
            return self.options.batch_size
        return 32 if resolve_device(self.options.device) == "cuda" else 4

    def load(self) -> None:
        if self.model is not None:
            return
        torch = import_torch()
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoTokenizer,
        )

        path = self.options.model
        if path is None:
            from prefsmith.bundled import smollm2_checkpoint

            path = str(smollm2_checkpoint())
        device = resolve_device(self.options.device)
        try:
            config = AutoConfig.from_pretrained(path)
            loader = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
            self.model = (
                loader.from_pretrained(path, dtype=resolve_dtype(self.options.dtype, device))
                .to(device)
                .eval()
            )
            self.tokenizer = AutoTokenizer.from_pretrained(path)
        except OSError as error:
            raise UserError(f"--model {path}: cannot load ({str(error).splitlines()[0]})") from None
        self.encoder_decoder = bool(config.is_encoder_decoder)
        self.yes_ids = answer_token_ids(self.tokenizer, YES)
        self.no_ids = answer_token_ids(self.tokenizer, NO)
        self.device, self.torch = device, torch

    def prompt_ids(self, item: Item, question: str) -> tuple[list[int], bool]:
        """Token ids of the question about one candidate (chat template when the model has
        one); the start of the text is cut when too long, so the question is always kept."""
        context = render_dialogue(item.messages) + "\n\n" if item.messages else ""
        text = self.template.format(
            context=context, response=item.contents[0], question=question, prompt=context
        )
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None) and not self.encoder_decoder:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=False,
            )
        else:
            ids = tokenizer(text)["input_ids"]
        limit = self.options.max_length
        return (ids[-limit:], True) if len(ids) > limit else (ids, False)

    def probabilities(self, sequences: list[list[int]], groups: list[int]) -> list[float]:
        """P(yes) / (P(yes) + P(no)) at the answer position of each sequence; `groups[i]` is
        the candidate sequence i asks about (its text is computed once for all questions)."""
        torch = self.torch
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        with torch.inference_mode():
            if self.encoder_decoder:
                ids, attention = left_padded(torch, sequences, pad)
                start = torch.full(
                    (len(sequences), 1),
                    self.model.config.decoder_start_token_id,
                    device=self.device,
                )
                logits = self.model(
                    input_ids=ids.to(self.device),
                    attention_mask=attention.to(self.device),
                    decoder_input_ids=start,
                ).logits[:, -1]
            else:
                logits = last_logits_shared(self.model, sequences, groups, pad, self.device)
        probabilities = torch.softmax(logits.float(), dim=-1)
        yes = probabilities[:, self.yes_ids].sum(-1)
        no = probabilities[:, self.no_ids].sum(-1)
        return (yes / (yes + no)).tolist()

    def label_batch(self, items: list[Item]) -> list[Label]:
        sequences, truncated, groups = [], [], []
        for index, item in enumerate(items):
            for question, _ in self.questions:
                ids_, cut = self.prompt_ids(item, question)
                sequences.append(ids_)
                truncated.append(cut)
                groups.append(index)
        values = self.probabilities(sequences, groups)
        labels, per_item = [], len(self.questions)
        for index, item in enumerate(items):
            answers = values[index * per_item : (index + 1) * per_item]
            scored = [
                1 - p if negated else p
                for p, (_, negated) in zip(answers, self.questions, strict=True)
            ]
            details = {
                "questions": {
                    ("not:" if n else "") + q: round(v, 6)
                    for (q, n), v in zip(self.questions, scored, strict=True)
                },
                "truncated": any(truncated[index * per_item : (index + 1) * per_item]),
            }
            labels.append(self.make_label(item, [sum(scored) / len(scored)], details))
        return labels
