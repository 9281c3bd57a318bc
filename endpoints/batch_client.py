"""A chat client that goes through the Batch API (`/v1/files` + `/v1/batches`): half price,
answers within the batch's window.

It has `ChatClient`'s interface, so labelers and generation use it unchanged: a request
whose answer a collected batch holds is answered from it (the same parsing, fingerprint and
cache as online); one that is in a batch still running is `batch_pending`; any other is
queued and answered `batch_pending` too. Pending answers are transient, so nothing is stored
for them and the next run (or `prefsmith batches collect`) asks again and finds them.
`close()` submits what was queued (`submit=False`: answers only, nothing new is sent).
Requests a batch failed for a transient reason, or left unanswered when it expired, are
queued again, up to MAX_FAILURES times; a prompt too long is that item's final error, and
a request the endpoint refuses (a wrong key or model) stops the run as online.

Every step is recorded in the store first (batch_records.py); a submission is held by one
process at a time while it is submitted, and create calls are never retried blindly (a lost
reply would create a second batch): the next run looks for what was made before making it.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from prefsmith.endpoints.batch_records import BatchRecords, request_key
from prefsmith.endpoints.chat_client import (
    TOO_LONG,
    TRANSIENT_STATUS,
    ChatResult,
    EndpointRefused,
    completion_result,
)
from prefsmith.endpoints.connect import check_batch_endpoint
from prefsmith.schemas.secrets import scrub

MAX_REQUESTS = 50_000  # per batch, OpenAI's limit
MAX_FAILURES = 3  # batches that could not answer a request before it is a final error
ENDPOINT = "/v1/chat/completions"
ENDED = ("completed", "expired", "cancelled")
_log = logging.getLogger("prefsmith")


class BatchClient:
    def __init__(
        self,
        store_root: str,
        base_url: str,
        model: str,
        job: Mapping[str, Any] | None = None,
        submit: bool = True,
    ) -> None:
        check_batch_endpoint(base_url)
        self.base_url, self.model, self.job = base_url, model, dict(job or {})
        self.records, self.submit = BatchRecords(store_root), submit
        self.requests = 0  # requests sent online: none
        self.budget: Any = None
        self.queued: dict[str, dict[str, Any]] = {}
        self.queued_worst = 0.0
        self.submitted: list[str] = []
        self.collected: list[str] = []
        self.answered = 0
        self._answers: dict[str, dict[str, Any]] | None = None
        self._failures: Counter[str] = Counter()
        self._results: dict[str, ChatResult] = {}
        self._in_flight: set[str] = set()

    def _api(self) -> Any:
        from openai import OpenAI

        key = os.environ.get("OPENAI_API_KEY") or "not-needed-for-local-servers"
        return OpenAI(base_url=self.base_url, api_key=key, max_retries=2, timeout=600)

    # --- what the store already knows ------------------------------------------------------

    def refresh(self, resume: bool = True) -> None:
        """Poll running batches and download ended ones; with `resume`, also finish
        submissions that a dead run left half done (never one another process holds)."""
        api = None
        for record in self.records.open(self.base_url):
            with self.records.claim(record["id"]) as mine:
                if not mine:
                    continue  # another process is submitting it right now
                record = self.records.load(record["id"])  # as it is now that it's ours
                api = api or self._api()
                if record["state"] == "submitted":
                    self._guarded(self._poll, api, record)
                elif resume and self.submit and self._room_for(record):
                    self._guarded(self._submit_record, api, record, True)
        self._answers, self._failures, self._results = {}, Counter(), {}
        for line in self.records.results(self.base_url):
            key = line.get("custom_id", "")
            if key in self._results:
                continue
            if (result := _usable_answer(line)) is not None:
                self._results[key] = result
            else:  # an error, or an HTTP 200 whose answer is unusable (a content filter's)
                self._failures[key] += 1
                self._answers.setdefault(key, line)
        self._in_flight = {k for r in self.records.open(self.base_url) for k in r["requests"]}

    def _room_for(self, record: Mapping[str, Any]) -> bool:
        """A half-done submission is sent by this run: its worst case counts against the
        budget, and it waits for a run with room for it."""
        worst = record.get("worst_usd") or 0.0
        if self.budget is None or not worst:
            return True
        if not self.budget.fits(worst):
            _log.warning("submission %s waits for a run with room in its budget", record["id"])
            return False
        self.budget.spent += worst
        return True

    def _guarded(self, step: Any, *args: Any) -> None:
        """Run a remote step: a refusal (4xx) stops the run in one line; a transient fault
        leaves the submission as recorded for the next run."""
        import openai

        try:
            step(*args)
        except openai.APIStatusError as error:
            if error.status_code in TRANSIENT_STATUS:
                _log.warning("Batch API: HTTP %s; the next run goes on", error.status_code)
                return
            message = scrub(str(getattr(error, "message", error)))[:300]
            record = args[1]
            if record["state"] in ("prepared", "uploaded"):  # no batch was made: none will be
                record.update(state="failed", errors=[f"HTTP {error.status_code}: {message}"])
                self.records.save(record)
            raise EndpointRefused(
                f"{self.base_url} refused a Batch API call (HTTP {error.status_code}): {message}"
            ) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as error:
            name = type(error).__name__
            _log.warning("Batch API unreachable (%s); the next run goes on", name)

    def _poll(self, api: Any, record: dict[str, Any]) -> None:
        batch = api.batches.retrieve(record["batch_id"])
        record["status"] = batch.status
        record["request_counts"] = batch.request_counts.model_dump() if batch.request_counts else {}
        if batch.status == "failed":
            errors = [e.message for e in (batch.errors.data if batch.errors else []) or []]
            record.update(state="failed", errors=[scrub(str(e))[:300] for e in errors])
            _log.warning("batch %s failed: %s", record["batch_id"], "; ".join(errors) or "-")
        elif batch.status in ENDED:
            lines = b""
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    data = api.files.content(file_id).read()
                    lines += data if data.endswith(b"\n") or not data else data + b"\n"
            self.records.save_results(record, lines)
            record["state"] = "collected"
            self.collected.append(record["batch_id"])
        self.records.save(record)

    # --- the ChatClient interface ------------------------------------------------------------

    def chat_many(self, requests: Sequence[tuple[list[dict], dict]]) -> list[ChatResult]:
        if self._answers is None:
            self.refresh()
        results, queue = [], []
        for messages, sampling in requests:
            key = request_key(self.model, messages, sampling)
            answered = self._answer(key)
            if answered is not None:
                self.answered += 1
                results.append(answered)
            elif key in self._in_flight or key in self.queued:
                results.append(ChatResult(None, error="batch_pending: in a running batch"))
            elif not self.submit:
                results.append(ChatResult(None, error="batch_pending: for the next run to send"))
            else:
                queue.append((key, messages, sampling))
                results.append(ChatResult(None, error="batch_pending: queued for a batch"))
        if queue and self.budget is not None:
            # A batch is paid when it runs: its worst case counts when it is queued.
            worst = self.budget.worst_case((m, s) for _, m, s in queue)
            self.budget.admit_cost(worst)
            self.budget.spent += worst
            self.queued_worst += worst
        for key, messages, sampling in queue:
            body = {"model": self.model, "messages": messages, **sampling}
            self.queued[key] = {"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}
        return results

    def _answer(self, key: str) -> ChatResult | None:
        """The result collected batches hold for this request; None: ask in a batch."""
        if key in self._results:
            return self._results[key]
        line = (self._answers or {}).get(key)
        if line is None:
            return None
        response = line.get("response") or {}
        status = response.get("status_code")
        body = response.get("body") or {}
        if status == 200:  # answered, but nothing usable: a content filter, an empty reply
            reasons = [
                c.get("finish_reason") for c in body.get("choices") or [] if isinstance(c, dict)
            ]
            message = f"no usable answer (finish_reason {', '.join(map(str, reasons)) or 'none'})"
        else:
            message = scrub(json.dumps(body.get("error") or line.get("error")))
        if status == 413 or (status == 400 and TOO_LONG.search(message)):
            return ChatResult(None, error=f"prompt_too_long: {message[:300]}")
        if status in (400, 401, 403, 404):
            raise EndpointRefused(
                f"{self.base_url} (model {self.model}) refused a batched request "
                f"(HTTP {status}): {message[:300]}"
            )
        if self._failures[key] >= MAX_FAILURES:
            return ChatResult(
                None, error=f"batch_failed: {MAX_FAILURES} batches did not answer: {message[:200]}"
            )
        return None  # expired, failed for a reason that may pass, or malformed: the next batch

    def close(self) -> None:
        """Submit what was queued, in batches of at most MAX_REQUESTS."""
        lines, self.queued = list(self.queued.values()), {}
        if not lines:
            return
        api, share = self._api(), self.queued_worst / len(lines)
        for start in range(0, len(lines), MAX_REQUESTS):
            part = lines[start : start + MAX_REQUESTS]
            sid = self.records.new_id(part)
            with self.records.claim(sid):
                record = self.records.new(sid, part, self.job, self.base_url, share * len(part))
                self._guarded(self._submit_record, api, record)

    # --- submitting, step by step, each step recorded -----------------------------------------

    def _submit_record(self, api: Any, record: dict[str, Any], recovering: bool = False) -> None:
        """Upload, then create the batch; `recovering` a record an earlier run left half
        done, first look for what that run made (its file, its batch) before making it."""
        once = api.with_options(max_retries=0)  # a retried create could make a second one
        name = f"prefsmith-{record['id']}.jsonl"
        if record["state"] == "prepared":
            found = []
            if recovering:
                found = [f for f in api.files.list(purpose="batch") if f.filename == name]
            if found:
                record["file_id"] = found[0].id  # uploaded by a run that died before recording it
            else:
                data = self.records.input_of(record)
                record["file_id"] = once.files.create(file=(name, data), purpose="batch").id
            record["state"] = "uploaded"
            self.records.save(record)
        if record["state"] == "uploaded":
            found = []
            if recovering:
                found = [
                    b
                    for b in api.batches.list(limit=100)
                    if (b.metadata or {}).get("prefsmith_submission") == record["id"]
                ]
            batch = (
                found[0]
                if found
                else once.batches.create(
                    input_file_id=record["file_id"],
                    endpoint=ENDPOINT,
                    completion_window="24h",
                    metadata={"prefsmith_submission": record["id"]},
                )
            )
            record.update(state="submitted", batch_id=batch.id, status=batch.status)
            self.records.save(record)
            self.submitted.append(batch.id)
            _log.info("batch %s submitted: %d requests", batch.id, len(record["requests"]))

    def summary(self) -> dict[str, Any]:
        """What this run did with batches, for the run summary."""
        in_flight = sum(len(r["requests"]) for r in self.records.open(self.base_url))
        return {
            "answered_from_batches": self.answered,
            "batches_submitted": self.submitted,
            "batches_collected": self.collected,
            "requests_in_flight": in_flight,
        }


def _usable_answer(line: Mapping[str, Any]) -> ChatResult | None:
    """The answer of a result line: HTTP 200 and a well-formed completion, else None."""
    response = line.get("response") or {}
    if response.get("status_code") != 200:
        return None
    from openai.types.chat import ChatCompletion

    try:
        return completion_result(ChatCompletion.model_validate(response.get("body")))
    except Exception:  # a body that is not a chat completion at all
        return None
