"""One input row of a pairwise, ranking or score layout -> a judged row: its prompt, its
answers and what each labeler said (`RowProblem(reason)` when the row can't be used)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prefsmith.ingest.pair_layouts import (
    PairLayout,
    RowProblem,
    answer_of,
    messages_of,
    shared_prefix,
    up_to_turn,
)
from prefsmith.schemas.records import Candidate, Label, Prompt

SCORES = {"first": [1.0, 0.0], "second": [0.0, 1.0], "tie": [0.5, 0.5]}


@dataclass
class JudgedRow:
    prompt: Prompt
    answers: list[Candidate]  # first and second, or a ranking best first
    verdicts: dict[str, str]  # labeler -> first | second | tie | ranking
    ranks: list[float] = field(default_factory=list)  # a ranking's ranks, or the one score
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class PairRules:
    """What an ingest of pairs does with a row: the layout, the labeler names, the source."""

    layout: PairLayout
    labeler: str
    fingerprint: str
    source_name: str
    conflicts: str = "reject"
    subset: str | None = None  # the subset of every pair of this file
    known: Any = None  # ingest labels: {candidate id: prompt id} of the store (None: add texts)


def _value(record: Mapping[str, Any], column: str) -> Any:
    value = record.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise RowProblem("missing_field")
    return value


def _side(record: Mapping[str, Any], column: str, values: dict[str, str]) -> str:
    value = _value(record, column)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    side = values.get(str(value))
    if side is None:
        raise RowProblem("unknown_winner")
    return side


def _model(record: Mapping[str, Any], column: str | None) -> str | None:
    value = record.get(column) if column else None
    return str(value) if value not in (None, "") else None


def convert_row(record: Mapping[str, Any], rules: PairRules) -> JudgedRow:
    """One row -> its prompt, answers and verdicts; RowProblem(reason) if it can't be used."""
    layout, source = rules.layout, rules.source_name
    if layout.ranking is not None:
        return _ranking_row(record, rules)
    if layout.score is not None:
        return _score_row(record, rules)
    if layout.by_ids:
        return _by_ids_row(record, rules)
    first_value, second_value = _value(record, layout.first), _value(record, layout.second)
    if layout.prompt is not None:
        messages = messages_of(_value(record, layout.prompt))
        first, first_turns = answer_of(first_value)
        second, second_turns = answer_of(second_value)
    else:
        first_messages, second_messages = messages_of(first_value), messages_of(second_value)
        if layout.turn is not None:
            turn = _value(record, layout.turn)
            first_messages = up_to_turn(first_messages, turn)
            second_messages = up_to_turn(second_messages, turn)
        messages, first_rest, second_rest = shared_prefix(first_messages, second_messages)
        if not first_rest or not second_rest:
            raise RowProblem("identical_answers" if first_rest == second_rest else "empty_answer")
        first, first_turns = answer_of(first_rest)
        second, second_turns = answer_of(second_rest)
    if messages[-1]["role"] == "assistant":
        raise RowProblem("malformed_messages")
    followups = [m["content"] for m in first_turns if m["role"] == "user"]
    if followups != [m["content"] for m in second_turns if m["role"] == "user"]:
        followups = []
    prompt = Prompt(messages=messages, source=source, followups=followups)
    models = (_model(record, layout.first_model), _model(record, layout.second_model))
    answers = [
        Candidate(prompt.prompt_id, text, f"{source}:{model}" if model else source, turns)
        for text, turns, model in (
            (first, first_turns, models[0]),
            (second, second_turns, models[1]),
        )
    ]
    if answers[0].candidate_id == answers[1].candidate_id:
        raise RowProblem("identical_answers")
    verdicts = {
        rules.labeler: _side(record, layout.winner, layout.values) if layout.winner else "first"
    }
    for name, column in layout.also.items():
        verdicts[name] = _side(record, column, layout.values)
    details: dict[str, Any] = {}
    if layout.subset is not None:
        details["subset"] = str(_value(record, layout.subset))
    elif rules.subset is not None:
        details["subset"] = rules.subset
    if layout.strength is not None:
        strength = _value(record, layout.strength)
        if not isinstance(strength, int | float) or isinstance(strength, bool):
            raise RowProblem("bad_strength")
        details["margin"] = abs(float(strength))
    return JudgedRow(prompt, answers, verdicts, details=details)


def _ranking_row(record: Mapping[str, Any], rules: PairRules) -> JudgedRow:
    prompt = Prompt(
        messages=messages_of(_value(record, rules.layout.prompt)), source=rules.source_name
    )
    answers, ranks = [], []
    entries = _value(record, rules.layout.ranking)
    if not isinstance(entries, list) or len(entries) < 2:
        raise RowProblem("malformed_ranking")
    ranked = []
    for position, entry in enumerate(entries, start=1):
        if isinstance(entry, str):  # plain answers, best first
            entry = {"answer": entry, "rank": position}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("answer"), str):
            raise RowProblem("malformed_ranking")
        ranked.append((float(entry.get("rank", position)), entry))
    for rank, entry in sorted(ranked, key=lambda pair: pair[0]):
        text, _ = answer_of(entry["answer"])
        model = entry.get("model")
        origin = f"{rules.source_name}:{model}" if model else rules.source_name
        answers.append(Candidate(prompt.prompt_id, text, origin))
        ranks.append(rank)
    if len({a.candidate_id for a in answers}) < len(answers):
        raise RowProblem("identical_answers")
    return JudgedRow(prompt, answers, {rules.labeler: "ranking"}, ranks=ranks)


def _score_row(record: Mapping[str, Any], rules: PairRules) -> JudgedRow:
    layout = rules.layout
    score = _value(record, layout.score)
    if isinstance(score, str):
        try:
            score = float(score)
        except ValueError:
            raise RowProblem("bad_score") from None
    if isinstance(score, bool) or not isinstance(score, int | float) or math.isnan(score):
        raise RowProblem("bad_score")
    if layout.by_ids:
        prompt, answers = _known_answers(rules, [_value(record, layout.first)])
    else:
        prompt = Prompt(
            messages=messages_of(_value(record, layout.prompt)), source=rules.source_name
        )
        text, turns = answer_of(_value(record, layout.first))
        answers = [Candidate(prompt.prompt_id, text, rules.source_name, turns)]
    return JudgedRow(prompt, answers, {rules.labeler: "score"}, ranks=[float(score)])


def _known_answers(rules: PairRules, ids: list[Any]) -> tuple[Prompt, list[Candidate]]:
    """The store's answers with these ids, and their prompt (by id only: nothing is written)."""
    known = rules.known or {}
    if any(not isinstance(i, str) or i not in known for i in ids):
        raise RowProblem("unknown_candidate")
    prompts = {known[i] for i in ids}
    if len(prompts) != 1:
        raise RowProblem("different_prompts")
    prompt_id = prompts.pop()
    prompt = Prompt(messages=[], source=rules.source_name, prompt_id=prompt_id)
    return prompt, [Candidate(prompt_id, "", "", candidate_id=i) for i in ids]


def _by_ids_row(record: Mapping[str, Any], rules: PairRules) -> JudgedRow:
    layout = rules.layout
    prompt, answers = _known_answers(
        rules, [_value(record, layout.first), _value(record, layout.second)]
    )
    if answers[0].candidate_id == answers[1].candidate_id:
        raise RowProblem("identical_answers")
    verdict = _side(record, layout.winner, layout.values) if layout.winner else "first"
    return JudgedRow(prompt, answers, {rules.labeler: verdict})


def label_of(row: JudgedRow, labeler: str, verdict: str, fingerprint: str) -> Label:
    ids = [a.candidate_id for a in row.answers]
    if verdict == "ranking":
        scores = [-rank for rank in row.ranks]  # higher is better
        return Label(labeler, fingerprint, "ranking", row.prompt.prompt_id, ids, scores)
    if verdict == "score":
        return Label(labeler, fingerprint, "score", row.prompt.prompt_id, ids, row.ranks)
    return Label(labeler, fingerprint, "pairwise", row.prompt.prompt_id, ids, SCORES[verdict],
                 dict(row.details))  # fmt: skip
