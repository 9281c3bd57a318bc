"""The pairwise layouts prefsmith knows, and how one row of them becomes a judged pair.

A layout is a field mapping: where the prompt, the two answers and the verdict are, and which
file values mean "first", "second" or "tie". The known ones come from their owners' dataset
cards (docs/ingest.md has the table); any other layout is named by flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from prefsmith.ingest.hh_rows import HHRowError, split_dialogue
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.preference_ingest import PairFields

ARENA_WINNERS = "first=model_a,second=model_b,tie=tie|tie (bothbad)|tie (inconsistent)"
HELPSTEER_WINNERS = "first=-3|-2|-1,second=1|2|3,tie=0"


@dataclass(frozen=True)
class PairLayout:
    """Where a row keeps its parts. `winner` None: the first answer is the chosen one."""

    name: str
    first: str | None = None
    second: str | None = None
    prompt: str | None = None
    winner: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # file value -> first|second|tie
    ranking: str | None = None
    subset: str | None = None
    turn: str | None = None
    strength: str | None = None
    first_model: str | None = None
    second_model: str | None = None
    also: dict[str, str] = field(default_factory=dict)  # labeler -> verdict field
    score: str | None = None  # a score per answer (`first` is the answer)
    by_ids: bool = False  # answer fields hold prefsmith candidate ids


def winner_values(text: str) -> dict[str, str]:
    """`first=V1|V1b,second=V2,tie=V3` -> {file value: side}; a key may repeat."""
    values: dict[str, str] = {}
    for part in text.split(","):
        side, sep, found = part.partition("=")
        side = side.strip()
        if not sep or side not in ("first", "second", "tie") or not found:
            raise UserError(
                f"--winner-values: {part!r} is not first=V, second=V or tie=V "
                "(several values: tie=a|b)"
            )
        for value in found.split("|"):
            values[value.strip()] = side
    if not {"first", "second"} <= set(values.values()):
        raise UserError("--winner-values: give a value for first and one for second")
    return values


KNOWN: tuple[tuple[frozenset[str], PairLayout], ...] = (
    (frozenset({"conversation_a", "conversation_b", "winner"}),
     PairLayout("arena", "conversation_a", "conversation_b", winner="winner",
                values=winner_values(ARENA_WINNERS), first_model="model_a",
                second_model="model_b", turn="turn")),
    (frozenset({"context", "response1", "response2", "overall_preference"}),
     PairLayout("helpsteer3", "response1", "response2", prompt="context",
                winner="overall_preference", values=winner_values(HELPSTEER_WINNERS),
                strength="overall_preference")),
    (frozenset({"prompt", "response_1", "response_2", "preference_strength"}),
     PairLayout("helpsteer2-preference", "response_1", "response_2", prompt="prompt",
                winner="preference_strength", values=winner_values(HELPSTEER_WINNERS),
                strength="preference_strength")),
    (frozenset({"prompt", "response_0", "response_1", "better_response_id"}),
     PairLayout("pku-saferlhf", "response_0", "response_1", prompt="prompt",
                winner="better_response_id", values={"0": "first", "1": "second"},
                first_model="response_0_source", second_model="response_1_source")),
    (frozenset({"input", "output_1", "output_2", "label"}),
     PairLayout("llmbar", "output_1", "output_2", prompt="input", winner="label",
                values={"1": "first", "2": "second"})),
    (frozenset({"question", "response_A", "response_B", "label"}),
     PairLayout("judgebench", "response_A", "response_B", prompt="question", winner="label",
                values={"A>B": "first", "B>A": "second", "A=B": "tie"})),
    (frozenset({"prompt", "answers"}), PairLayout("nectar", prompt="prompt", ranking="answers")),
    (frozenset({"chosen", "rejected"}),
     PairLayout("chosen-rejected", "chosen", "rejected", prompt="prompt",
                first_model="chosen_model", second_model="rejected_model")),
)  # fmt: skip
OPTIONAL = ("prompt", "first_model", "second_model", "turn")


def detect_layout(columns: Iterable[str], fields: PairFields) -> PairLayout:
    """The known layout that `columns` hold, with every flag given winning over it."""
    columns = set(columns)
    found = next((layout for need, layout in KNOWN if need <= columns), PairLayout("fields"))
    for name in OPTIONAL:  # a known layout's optional columns, when the file lacks them
        if getattr(found, name) not in columns:
            found = replace(found, **{name: None})
    if found.name == "chosen-rejected" and "subset" in columns:
        found = replace(found, subset="subset")
    given = {
        "prompt": fields.prompt_field,
        "first": fields.first_field or fields.chosen_field,
        "second": fields.second_field or fields.rejected_field,
        "winner": fields.winner_field,
        "ranking": fields.ranking_field,
        "subset": fields.subset_field,
        "turn": fields.turn_field,
        "strength": fields.strength_field,
        "first_model": fields.first_model_field,
        "second_model": fields.second_model_field,
    }
    layout = replace(found, **{k: v for k, v in given.items() if v is not None})
    if fields.chosen_field or fields.rejected_field:
        layout = replace(layout, winner=None, values={})
    if fields.winner_values:
        layout = replace(layout, values=winner_values(fields.winner_values))
    also = {}
    for item in fields.also:
        name, sep, column = item.partition("=")
        if not sep or not name or not column:
            raise UserError(f"--also {item!r}: give NAME=FIELD")
        also[name.strip()] = column.strip()
    layout = replace(layout, also=also)
    _check(layout, columns)
    return layout


ANSWER_GUESSES = ("response", "answer", "output", "completion")
PROMPT_GUESSES = ("prompt", "instruction", "input", "question")


def score_layout(
    columns: Iterable[str], score: str, answer: str | None, prompt: str | None, by_ids: bool
) -> PairLayout:
    """A score per answer: `score`, and the answer and prompt columns (named, or guessed;
    answers named by id need no prompt)."""
    columns = set(columns)
    answer = answer or next((c for c in ANSWER_GUESSES if c in columns), None)
    prompt = prompt or next((c for c in PROMPT_GUESSES if c in columns), None)
    if answer is None or (prompt is None and not by_ids):
        raise UserError("labels: --score-field needs --answer-field and --prompt-field")
    missing = [c for c in (score, answer, prompt) if c is not None and c not in columns]
    if missing:
        raise UserError(f"labels: no column {', '.join(missing)} in the first row")
    return PairLayout("scores", first=answer, prompt=prompt, score=score, by_ids=by_ids)


def _check(layout: PairLayout, columns: set[str]) -> None:
    if layout.ranking is None and (layout.first is None or layout.second is None):
        raise UserError(
            f"pairs: the first row ({', '.join(sorted(columns))}) is no known layout; name the "
            "fields: --chosen-field/--rejected-field, or --first-field/--second-field with "
            "--winner-field and --winner-values, or --ranking-field"
        )
    if (layout.winner or layout.also) and not layout.values:
        raise UserError("pairs: --winner-field needs --winner-values first=V1,second=V2[,tie=V3]")
    wanted = [layout.first, layout.second, layout.winner, layout.ranking, *layout.also.values()]
    missing = [c for c in wanted if c is not None and c not in columns]
    if missing:
        raise UserError(f"pairs: no column {', '.join(missing)} in the first row")


class RowProblem(ValueError):
    """A row that cannot be used: `reason` is its reject reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def messages_of(value: Any) -> list[dict[str, str]]:
    """Chat messages from a message list, an hh-style transcript, or plain text (one user turn)."""
    if isinstance(value, str):
        if not value.strip():
            raise RowProblem("empty_prompt")
        if value.lstrip().startswith("Human:") or "\n\nHuman:" in value[:200]:
            try:
                turns = split_dialogue(value)
            except HHRowError:
                raise RowProblem("malformed_messages") from None
            if turns and turns[-1]["role"] == "assistant" and not turns[-1]["content"]:
                turns = turns[:-1]  # the open "Assistant:" the answer goes after
            return turns
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise RowProblem("malformed_messages")
    messages = []
    for message in value:
        if not isinstance(message, Mapping):
            raise RowProblem("malformed_messages")
        role, content = message.get("role"), message.get("content")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise RowProblem("malformed_messages")
        messages.append({"role": role, "content": content})
    return messages


def answer_of(value: Any) -> tuple[str, list[dict[str, str]]]:
    """(answer, later turns) of an answer given as text or as messages (assistant first)."""
    if isinstance(value, str):
        if not value.strip():
            raise RowProblem("empty_answer")
        return value, []
    messages = messages_of(value)
    if messages[0]["role"] != "assistant":
        raise RowProblem("malformed_messages")
    if not messages[0]["content"].strip():
        raise RowProblem("empty_answer")
    return messages[0]["content"], messages[1:]


def up_to_turn(messages: list[dict[str, str]], turn: Any) -> list[dict[str, str]]:
    """The conversation cut after its `turn`-th assistant answer."""
    if isinstance(turn, bool) or not isinstance(turn, int | float) or turn < 1:
        raise RowProblem("bad_turn")
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if len(answers) < turn:
        raise RowProblem("bad_turn")
    return messages[: answers[int(turn) - 1] + 1]


def shared_prefix(
    first: list[dict[str, str]], second: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """trl's implicit prompt: the messages both conversations start with, up to the first
    assistant turn where they differ; then each side's rest."""
    k = 0
    while k < min(len(first), len(second)) and first[k] == second[k]:
        k += 1
    while k > 0 and first[k - 1]["role"] == "assistant":
        k -= 1  # the answers start with an assistant turn
    if k == 0:
        raise RowProblem("no_shared_prompt")
    return first[:k], first[k:], second[k:]
