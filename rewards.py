"""A labeler as a reward function for trl's online trainers (GRPO, RLOO, ...).

Each (prompt, completion) becomes the `Item` an offline run would label, with the store's
content ids, so with a store an answer labeled offline is never scored again, and a reward
computed online is a label like any other (`prefsmith eval labelers` sees it).
"""

from __future__ import annotations

import atexit
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prefsmith.labelers.base import Item, Labeler, is_transient
from prefsmith.labelers.registry import REGISTRY, build_labeler
from prefsmith.schemas import ids
from prefsmith.schemas.batching import batched
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, Label, Prompt, dump_json, to_table
from prefsmith.schemas.secrets import scrub
from prefsmith.schemas.settings_text import parse_assignments
from prefsmith.store import Store
from prefsmith.store.labeler_records import record_labeler

REFERENCE_COLUMNS = ("reference", "answer", "solution")
# What trl's trainers pass besides the dataset's columns (GRPOTrainer._calculate_rewards).
TRAINER_KWARGS = {"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
_NEXT_OPTION = re.compile(r",(?=\s*[A-Za-z_]\w*\s*=)")  # a comma that starts `key=` (not a value's)


def reward_function(
    spec: str | tuple[str, Mapping[str, Any]], store: Store | str | os.PathLike[str] | None = None
) -> LabelerReward:
    """A trl reward function that scores each completion with a prefsmith labeler.

    `spec` is a labeler with its options, `NAME` or `NAME:key=value,key=value` (values read by
    the option's type, as `prefsmith label --option` reads them), or `(NAME, {options})`. The
    labeler must score one answer (unit `candidate`): a verifier, a reward model, a judge in
    single mode. It loads on the first call. Each reward is the label's score; an answer the
    labeler skips (no reference) or fails on gets None, which trl leaves out of that reward.
    Dataset columns reach the labeler: `reference` (else `answer`, `solution`) as the
    reference, every column as the prompt's metadata (`tests`, `instruction_id_list`, ...).

    With `store`, rewards are cached by content id under the labeler's fingerprint: stored
    labels (offline or online) are read back, only new answers are labeled, and their prompts,
    candidates (origin `online:NAME`) and labels are written as an offline run writes them,
    every `batch_size * chunk_batches` labels; the rest at exit, or when training ends:
    `reward.close()`.

        from trl import GRPOConfig, GRPOTrainer
        from prefsmith.rewards import reward_function

        trainer = GRPOTrainer(
            model="./runs/sft", args=GRPOConfig(output_dir="runs/grpo"), train_dataset=dataset,
            reward_funcs=[reward_function("verify-math", store="runs/store")],
        )
    """
    key, options = parse_spec(spec)
    labeler = build_labeler(key, options)
    if labeler.unit != "candidate":
        raise UserError(
            f"reward function {key}: a reward function needs a labeler that scores one answer "
            f'(unit "candidate"); {key} labels {labeler.unit}s'
        )
    return LabelerReward(labeler, Store(store) if isinstance(store, str | os.PathLike) else store)


def parse_spec(spec: str | tuple[str, Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """(registry key, options) of `NAME`, `NAME:key=value,...` or `(NAME, {options})`."""
    if not isinstance(spec, str):
        key, options = spec
        return key, dict(options)
    key, _, rest = spec.partition(":")
    key = key.strip()
    assignments = [part for part in _NEXT_OPTION.split(rest) if part.strip()]
    model = REGISTRY[key].Options if key in REGISTRY else None  # an unknown key: build names it
    return key, parse_assignments(assignments, f"reward function {key}:", model)


class LabelerReward:
    """The callable `reward_function` returns: `f(prompts, completions, **kwargs)`."""

    def __init__(self, labeler: Labeler, store: Store | None) -> None:
        self.labeler, self.store = labeler, store
        self.origin = f"online:{labeler.name}"
        self.__name__ = "reward_" + re.sub(r"\W", "_", labeler.name)
        self._loaded = False
        self._known: dict[str, float | None] = {}  # label id -> reward, stored or made here
        self._unwritten: list[tuple[Item, Label]] = []
        if store is not None:  # as `run_labeler` does: ready to key, then recorded
            store.ensure_writable()
            labeler.prepare(store)
            record_labeler(store, labeler.name, labeler.fingerprint(),
                           {"parts": labeler.fingerprint_parts(),
                            "trained_pairs": labeler.trained_pairs()})  # fmt: skip
        atexit.register(self.close)

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        items = _items(prompts, completions, kwargs)
        fingerprint, name = self.labeler.fingerprint(), self.labeler.name  # `label_id`, once
        keys = [ids.label_id(item.candidate_ids, name, fingerprint)
                if self.labeler.skip_reason(item) is None else None for item in items]  # fmt: skip
        self._known.update(self._stored({k for k in keys if k and k not in self._known}))
        pending = {k: it for k, it in zip(keys, items, strict=True) if k and k not in self._known}
        made = self._label(list(pending.values()), list(pending)) if pending else {}
        return [made.get(k, self._known.get(k)) if k else None for k in keys]

    def flush(self) -> None:
        """Write the labels made since the last write, with their prompts and candidates
        (done every `batch_size * chunk_batches` labels, as an offline run does, and at exit)."""
        if self.store is None or not self._unwritten:
            return
        items = [item for item, _ in self._unwritten]
        prompts = {
            item.prompt_id: Prompt(list(item.messages), self.origin, reference=item.reference,
                                   metadata=item.metadata, prompt_id=item.prompt_id)
            for item in items
        }  # fmt: skip
        candidates = [Candidate(item.prompt_id, item.contents[0], self.origin,
                                candidate_id=item.candidate_ids[0]) for item in items]  # fmt: skip
        labels = [label for _, label in self._unwritten]
        self._unwritten = []
        # The prompts and candidates first: no stored label names a missing answer.
        self.store.write("prompts", to_table("prompts", list(prompts.values())))
        self.store.write("candidates", to_table("candidates", candidates))
        self.store.write("labels", to_table("labels", labels))

    def close(self) -> None:
        """Write what is unwritten and release what the labeler's `load` started."""
        self.flush()
        if self._loaded:
            self.labeler.close()
            self._loaded = False  # a later call loads it again

    def _stored(self, keys: set[str]) -> dict[str, float | None]:
        """The rewards of the stored labels among `keys`."""
        if self.store is None or not keys:
            return {}
        asked = list(keys)
        found = self.store.keys("labels").contains(asked)
        known = [key for key, stored in zip(asked, found, strict=True) if stored]
        if not known:
            return {}
        import polars as pl

        rows = self.store.scan("labels").filter(pl.col("label_id").is_in(known))
        rows = rows.select("label_id", "scores", "error").collect().iter_rows()
        return {key: _reward(scores, error) for key, scores, error in rows}

    def _label(self, items: list[Item], keys: list[str]) -> dict[str, float | None]:
        """Rewards of `items`, labeled in the labeler's batches; what an offline run would
        store is kept (a transient error is not: that answer is asked again next time)."""
        if not self._loaded:
            self.labeler.load()
            self._loaded = True
        labels: list[Label] = []
        for batch in batched(items, self.labeler.batch_size):
            try:
                labels += self.labeler.label_batch(batch)
            except UserError:
                raise  # a setting that can't work: stop training, say why
            except Exception as error:  # as `run_labeler`: one batch's failure, not the run's
                reason = scrub(f"labeler_error: {type(error).__name__}: {error}")[:500]
                labels += [self.labeler.make_label(item, None, error=reason) for item in batch]
        made = {}
        for key, item, label in zip(keys, items, labels, strict=True):
            made[key] = _reward(label.scores, label.error)
            if not is_transient(label.error):
                self._known[key] = made[key]
                self._unwritten += [(item, label)] if self.store is not None else []
        if len(self._unwritten) >= self.labeler.batch_size * self.labeler.chunk_batches:
            self.flush()
        return made


def _reward(scores: Sequence[float] | None, error: str | None) -> float | None:
    return float(scores[0]) if scores and error is None and scores[0] is not None else None


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a multimodal content list."""
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else "" if content is None else str(content)


def _items(
    prompts: Sequence[Any], completions: Sequence[Any], kwargs: dict[str, Any]
) -> list[Item]:
    n = len(completions)
    columns = {k: v for k, v in kwargs.items()
               if k not in TRAINER_KWARGS and isinstance(v, list) and len(v) == n}  # fmt: skip
    rows = [{k: v[i] for k, v in columns.items()} for i in range(n)]
    return [_item(p, c, row) for p, c, row in zip(prompts, completions, rows, strict=True)]


def _item(prompt: Any, completion: Any, row: dict[str, Any]) -> Item:
    """The item of one answer, keyed as the store keys it; `row`: the dataset's other columns."""
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        messages = [{"role": m["role"], "content": _text(m.get("content"))} for m in prompt]
    if isinstance(completion, str):
        content = completion
    else:  # its assistant turns (a tool-using completion: the calls and the final answer)
        turns = [_text(m.get("content")) for m in completion if m.get("role") == "assistant"]
        content = "\n\n".join(turn for turn in turns if turn)
    # A dataset built from the store carries its prompt ids: the same prompt then (MT-Bench's
    # follow-up turn is part of its identity, and a system turn trl adds is not).
    given = row.get("prompt_id")
    prompt_id = given if isinstance(given, str) and given else ids.prompt_id(messages)
    metadata = {name: value for name, value in row.items() if _jsonable(value)}
    return Item(
        prompt_id=prompt_id,
        messages=messages,
        candidate_ids=[ids.candidate_id(prompt_id, content)],
        contents=[content],
        reference=next(
            (r for name in REFERENCE_COLUMNS if (r := _reference(row.get(name))) is not None), None
        ),
        metadata=metadata,
    )


def _reference(value: Any) -> str | None:
    """A reference column's text (MT-Bench's list of turns: the first; GSM8K-style numbers)."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value.strip() else None


def _jsonable(value: Any) -> bool:
    try:
        return dump_json(value) is not None or value is None
    except TypeError:  # an image, say: not metadata
        return False
