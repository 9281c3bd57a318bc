"""`verify-instructions`: IFEval's verifiable instructions, checked on each candidate.

    prefsmith ingest prompts ifeval.jsonl          # google/IFEval rows: key, prompt,
    prefsmith label --labeler verify-instructions  #   instruction_id_list, kwargs
    prefsmith label --labeler verify-instructions --mode loose --option all=true

The constraints come from the prompt's metadata in IFEval's own layout: `instruction_id_list`
(ids like `length_constraints:number_words`) and `kwargs` (one dict per instruction, None
for the arguments it does not take). The checks are lm-eval's copy of IFEval's, run as IFEval
runs them: `strict` on the answer as written, `loose` also on the answer without its first
line, its last line, or its `*`s. The score is the fraction of instructions followed; with
`all`, 1 when every one is followed, else 0 (IFEval's prompt-level accuracy). A prompt
without instructions is skipped (`no_instructions`); an unknown instruction or bad arguments
is that candidate's error. Sentence counts use Punkt: see `ifeval_compat`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from pydantic import Field

from prefsmith.labelers import ifeval_compat
from prefsmith.labelers.base import Item, Labeler, LabelerOptions
from prefsmith.schemas.records import Label


class VerifyInstructionsOptions(LabelerOptions):
    mode: Literal["strict", "loose"] = Field(
        default="strict",
        description="IFEval's strict check, or loose: also without the answer's first or "
        "last line or its asterisks",
    )
    all: bool = Field(
        default=False, description="Score 1 if every instruction is followed, else 0."
    )


class BadItem(ValueError):
    """An item whose instructions can't be checked: its final error."""


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _argument(value: Any) -> Any:
    """A whole-number float as an int (a parquet column of ints with nulls reads as floats)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class VerifyInstructionsLabeler(Labeler):
    key = "verify-instructions"
    unit = "candidate"
    kind = "score"
    Options = VerifyInstructionsOptions
    options: VerifyInstructionsOptions

    def __init__(self, options: VerifyInstructionsOptions) -> None:
        super().__init__(options)
        self.utils: Any = None
        self._parts: dict[str, Any] | None = None

    @property
    def batch_size(self) -> int:
        return self.options.batch_size or 64

    def fingerprint_parts(self) -> dict[str, Any]:
        if self._parts is None:  # asked once per item: versions and the splitter, once
            self._parts = {
                "mode": self.options.mode,
                "all": self.options.all,
                "lm_eval": _version("lm_eval"),
                "nltk": _version("nltk"),
                "sentence_splitter": ifeval_compat.sentence_splitter(),
            }
        return self._parts

    def skip_reason(self, item: Item) -> str | None:
        return None if item.metadata.get("instruction_id_list") else "no_instructions"

    def load(self) -> None:
        if self.utils is None:
            self.utils = ifeval_compat.import_ifeval()

    def label_batch(self, items: list[Item]) -> list[Label]:
        return [self._label(item) for item in items]

    def _label(self, item: Item) -> Label:
        details = {
            "mode": self.options.mode,
            "sentence_splitter": ifeval_compat.sentence_splitter(),
        }
        try:
            instructions = self._instructions(item.metadata)
        except BadItem as bad:
            return self.make_label(item, None, details, error=str(bad)[:300])
        test = (
            self.utils.test_instruction_following_loose
            if self.options.mode == "loose"
            else self.utils.test_instruction_following_strict
        )
        prompt = item.metadata.get("prompt")
        if not isinstance(prompt, str):
            prompt = next(
                (m["content"] for m in reversed(item.messages) if m["role"] == "user"), ""
            )
        followed: list[bool] = []
        results: dict[str, bool] = {}
        for instruction_id, kwargs in instructions:
            example = self.utils.InputExample(
                key=item.metadata.get("key"),
                instruction_id_list=[instruction_id],
                prompt=prompt,
                kwargs=[kwargs],
            )
            try:
                done = bool(test(example, item.contents[0]).follow_all_instructions)
            except Exception as error:  # one odd answer must not cost the batch
                problem = f"check_error: {instruction_id}: {type(error).__name__}: {error}"
                return self.make_label(item, None, details, error=problem[:300])
            followed.append(done)
            results[instruction_id] = done
        score = float(all(followed)) if self.options.all else sum(followed) / len(followed)
        return self.make_label(item, [score], {"instructions": results, **details})

    def _instructions(self, metadata: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(id, arguments) of each instruction, checked against lm-eval's registry: an
        unknown id, a missing argument (IFEval would draw a random one) or a bad one is a
        BadItem."""
        registry = self.utils.instructions_registry.INSTRUCTION_DICT
        ids, kwargs = metadata.get("instruction_id_list"), metadata.get("kwargs")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadItem("bad_instructions: instruction_id_list is not a list of ids")
        if kwargs is None:
            kwargs = [{} for _ in ids]
        if not isinstance(kwargs, list) or len(kwargs) != len(ids):
            raise BadItem(f"bad_kwargs: not a list of {len(ids)} dicts, one per instruction")
        instructions = []
        for instruction_id, arguments in zip(ids, kwargs, strict=True):
            if instruction_id not in registry:
                raise BadItem(f"unknown_instruction: {instruction_id}")
            if not isinstance(arguments, dict):
                raise BadItem(f"bad_kwargs: {instruction_id}: not a dict")
            given = {k: _argument(v) for k, v in arguments.items() if v}  # as lm-eval drops them
            instruction = registry[instruction_id](instruction_id)
            missing = [k for k in instruction.get_instruction_args_keys() if k not in given]
            if missing:
                raise BadItem(f"bad_kwargs: {instruction_id}: missing {', '.join(missing)}")
            try:
                instruction.build_description(**given)
            except Exception as error:
                raise BadItem(
                    f"bad_kwargs: {instruction_id}: {type(error).__name__}: {error}"
                ) from None
            instructions.append((instruction_id, given))
        return instructions
