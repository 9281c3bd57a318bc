"""Generating candidates through an OpenAI-compatible server (no Prefect here).

Each prompt gets N candidates from one generator (a model and its sampling
parameters: the candidates' origin); a rerun asks only for the samples still
missing. Multi-turn prompts (MT-Bench) are answered turn by turn: the first
answer is the candidate's content, later user turns and answers its extra turns
(`first_turn_only` skips them when only the first answer is judged). The client is
anything with `ChatClient`'s `chat_many`/`model`/`requests` (a server, or a
`TransformersClient` running the weights here).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from prefsmith.endpoints.budget import Budget, BudgetReached, RequestPlan, output_ceiling
from prefsmith.endpoints.chat_client import ChatClient, ChatResult
from prefsmith.schemas.batching import batched
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, load_json, to_table
from prefsmith.store import Store, starts_with_any

PROMPTS_PER_WRITE = 64


def origin_of(model: str, sampling: dict[str, Any]) -> str:
    settings = "&".join(
        f"{k}={v}" for k, v in sorted(sampling.items()) if k != "seed" and v is not None
    )
    return f"generate:{model}?{settings}"


def generate_candidates(
    store: Store,
    client: ChatClient,
    *,
    n: int,
    sampling: dict[str, Any],
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    first_turn_only: bool = False,
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Ask for the missing samples of every prompt (of `sources`: prompts whose source
    starts with one of them); returns the summary."""
    if n > 1 and not sampling.get("temperature"):
        raise UserError(
            "--n > 1 at temperature 0 would give identical candidates; set --temperature"
        )
    started = time.perf_counter()
    origin = origin_of(client.model, sampling)
    prompts, work, cached = missing_samples(
        store, origin, n=n, sources=sources, first_turn_only=first_turn_only, limit=limit
    )
    added, errors, done, usage, stopped = 0, Counter(), 0, Counter(), None
    budget = getattr(client, "budget", None)
    for chunk in batched(work, PROMPTS_PER_WRITE):
        candidates = []
        try:
            if budget is not None:  # every turn of the chunk, answers at their ceiling
                budget.admit_cost(_chunk_worst_case(budget, chunk, sampling))
            answered = _answer(client, chunk, sampling)
        except BudgetReached as reached:
            stopped = "budget"
            logging.getLogger("prefsmith").warning("generate: stopped by the budget: %s", reached)
            break
        for (prompt_id, _messages, followups, index), turns in zip(chunk, answered, strict=True):
            if isinstance(turns, str):
                errors[turns.split(":", 1)[0]] += 1
                continue
            for _, turn_usage, _ in turns:  # every turn's tokens: what the run paid for
                usage.update({k: v for k, v in (turn_usage or {}).items() if isinstance(v, int)})
            first, first_usage, finish = turns[0]
            extra = []
            for question, (answer, _, _) in zip(followups, turns[1:], strict=True):
                extra += [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            metadata = {
                "sample": index,
                "usage": first_usage,
                "finish_reason": finish,
                "seed": sampling.get("seed"),
            }
            candidates.append(
                Candidate(prompt_id, first, origin, extra_turns=extra, metadata=metadata)
            )
        added += store.write("candidates", to_table("candidates", candidates)).added
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(work))
        if budget is not None and budget.reached:  # a later turn did not fit: stop here
            stopped = "budget"
            break
    seconds = time.perf_counter() - started
    return {
        "command": "generate",
        "origin": origin,
        "prompts": len(prompts),
        "generated": added,
        "cached": cached,
        "errors": sum(errors.values()),
        "errors_by_reason": dict(errors.most_common()),
        "requests": client.requests,
        "usage": {k: usage[k] for k in ("prompt_tokens", "completion_tokens") if k in usage},
        **(budget.summary() if budget is not None else {}),
        **({"stopped": stopped} if stopped else {}),
        "seconds": round(seconds, 3),
    }


def missing_samples(
    store: Store,
    origin: str,
    *,
    n: int,
    sources: Sequence[str] | None = None,
    first_turn_only: bool = False,
    limit: int | None = None,
) -> tuple[list[tuple], list[tuple], int]:
    """(prompts, the samples to generate as (prompt_id, messages, followups, sample index),
    how many this generator has already made)."""
    prompts = store.scan("prompts")
    if sources:
        prompts = prompts.filter(starts_with_any("source", list(sources)))
    prompts = prompts.select("prompt_id", "messages", "followups").collect().rows()
    made = (
        store.scan("candidates")
        .filter(pl.col("origin") == origin)
        .select("prompt_id", "metadata")
        .collect()
        .rows()
    )
    have: dict[str, set[int]] = {}
    for prompt_id, metadata in made:
        have.setdefault(prompt_id, set()).add((load_json(metadata) or {}).get("sample", 0))
    work = [
        (pid, msgs, [] if first_turn_only else follow, i)
        for pid, msgs, follow in prompts
        for i in range(n)
        if i not in have.get(pid, set())
    ]
    cached = len(prompts) * n - len(work)
    return prompts, (work if limit is None else work[:limit]), cached


def turn_requests(messages: list[dict], followups: Sequence[str]) -> list[tuple[list[dict], int]]:
    """Each turn's request as far as it is known before answering: (the conversation with
    earlier answers left empty, how many earlier answers it holds)."""
    conversation, turns = list(messages), []
    for turn in range(len(followups) + 1):
        turns.append((list(conversation), turn))
        if turn < len(followups):
            conversation += [
                {"role": "assistant", "content": ""},
                {"role": "user", "content": followups[turn]},
            ]
    return turns


def plan_generation(plan: RequestPlan, work: Sequence[tuple], sampling: dict[str, Any]) -> None:
    """Add every turn of every sample in `work` to the dry run's plan."""
    for _, messages, followups, _ in work:
        for conversation, earlier in turn_requests(messages, followups):
            plan.add(conversation, sampling, earlier)


def _chunk_worst_case(budget: Budget, chunk: Sequence[tuple], sampling: dict[str, Any]) -> float:
    ceiling = output_ceiling(sampling)
    prompt = output = 0
    for _, messages, followups, _ in chunk:
        for conversation, earlier in turn_requests(messages, followups):
            if budget.counter is not None:
                counted = budget.counter.count(conversation) * budget.counter.margin
                prompt += math.ceil(counted) + earlier * ceiling
            output += ceiling
    return budget.priced(prompt, output) if budget.counter is not None else 0.0


def _answer(
    client: ChatClient, chunk: list[tuple], sampling: dict[str, Any]
) -> list[list[tuple] | str]:
    """Every sample's answers, turn after turn; a sample whose request failed is its error."""
    conversations = [list(messages) for _, messages, _, _ in chunk]
    answers: list[list[tuple] | str] = [[] for _ in chunk]
    turn = 0
    while True:
        active = [
            i
            for i, (_, _, followups, _) in enumerate(chunk)
            if not isinstance(answers[i], str) and turn <= len(followups)
        ]
        if not active:
            return answers
        requests = []
        for i in active:
            seed = sampling.get("seed")
            settings = {k: v for k, v in sampling.items() if v is not None}
            if seed is not None:
                settings["seed"] = (
                    seed + chunk[i][3]
                )  # each sample its own seed: reproducible, distinct
            requests.append((conversations[i], settings))
        try:
            results = client.chat_many(requests)
        except BudgetReached as reached:
            if turn == 0:
                raise
            # Later turns' prompts were counted before the answers existed; should the server
            # count more, those samples are left for the next run rather than overspend.
            results = [ChatResult(None, error=f"budget: {reached}") for _ in requests]
        for i, result in zip(active, results, strict=True):
            if result.error is not None:
                answers[i] = result.error  # nothing is stored for it: the next run asks again
                continue
            answers[i].append((result.text, result.usage, result.finish_reason))
            followups = chunk[i][2]
            conversations[i] = [*conversations[i], {"role": "assistant", "content": result.text}]
            if turn < len(followups):
                conversations[i].append({"role": "user", "content": followups[turn]})
        turn += 1
