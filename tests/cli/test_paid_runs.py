"""Paid runs as a user drives them: `--max-cost` ends with exit 0 and `"stopped": "budget"`,
`--dry-run` prints the plan and sends nothing, `--batch` then `prefsmith batches status` and
`collect`, and a run config's run-wide `max_cost`."""

import json

import yaml
from cli_runner import run_json, runner
from fake_openai import FakeOpenAI, completion
from fake_openai_batches import FakeBatchAPI
from judge_store import make_store

from prefsmith.cli.app import app

MODEL = "gpt-4o-mini"


def billed(body):
    """Usage at the worst case: the prompt as tiktoken counts it, the answer at max_tokens."""
    from prefsmith.endpoints.token_counts import token_counter

    answer = completion("Good.\nScore: 4")
    prompt = token_counter("https://x/v1", MODEL).count(body["messages"])
    output = body.get("max_tokens") or 10
    answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": output,
                       "total_tokens": prompt + output}  # fmt: skip
    return 200, answer


def test_label_with_a_budget_dry_run_and_a_rerun(store_dir):
    stub = FakeOpenAI(billed)
    try:
        make_store(store_dir)
        base = ["label", "--store", str(store_dir), "--labeler", "judge", "--endpoint", stub.url,
                "--model", MODEL, "--mode", "single", "--batch-size", "1"]  # fmt: skip
        plan = run_json(*base, "--dry-run")
        assert plan["dry_run"] is True and plan["requests"] == 3 and not stub.calls
        assert 0 < plan["cost_usd_min"] < plan["cost_usd_max"]
        assert plan["tokenizer"].startswith(("o200k_base", "cl100k_base"))
        one_request = plan["cost_usd_max"] / 3
        stopped = run_json(*base, "--max-cost", str(one_request * 1.5))
        assert stopped["stopped"] == "budget" and stopped["labeled"] == 1
        text = runner.invoke(app, [*base, "--max-cost", "0"])
        assert text.exit_code == 0 and "budget" in text.output
        finished = run_json(*base, "--max-cost", "1")
        assert "stopped" not in finished and finished["labeled"] == 2
        assert len(stub.calls) == 3
        unknown = runner.invoke(app, [*base[:-4], "--model", "my-model", "--max-cost", "1"])
        assert unknown.exit_code == 2 and "no price for model my-model" in unknown.output
    finally:
        stub.close()


def test_generate_dry_run_counts_turns_and_a_batch_is_collected_by_the_batches_command(
    store_dir,
):
    api = FakeBatchAPI(billed)
    try:
        make_store(store_dir)
        generate = ["generate", "--store", str(store_dir), "--endpoint", api.url, "--model",
                    MODEL, "--n", "2", "--temperature", "0.7", "--max-tokens", "50"]  # fmt: skip
        plan = run_json(*generate, "--dry-run", "--batch")
        assert (plan["requests"], plan["samples"], plan["max_output_tokens"]) == (2, 2, 100)
        label = ["label", "--store", str(store_dir), "--labeler", "judge", "--endpoint", api.url,
                 "--model", MODEL, "--mode", "single", "--batch"]  # fmt: skip
        submitted = run_json(*label)
        assert submitted["batch_pending"] == 3 and submitted["labeled"] == 0
        assert run_json(*label, "--dry-run")["requests"] == 0  # all held by the batch
        status = run_json("batches", "status", "--store", str(store_dir))
        (row,) = status["submissions"]
        assert (row["state"], row["status"], row["requests"]) == ("submitted", "in_progress", 3)
        api.finish()
        collected = run_json("batches", "collect", "--store", str(store_dir))
        (run,) = collected["runs"]
        assert (run["labeler"], run["labeled"], collected["requests_in_flight"]) == ("judge", 3, 0)
        again = run_json("batches", "collect", "--store", str(store_dir))
        assert again["runs"] == [] and api.count("POST", "/v1/batches") == 1
    finally:
        api.close()


def test_a_run_wide_budget_stops_the_run_and_its_rerun_goes_on(store_dir, tmp_path):
    stub = FakeOpenAI(billed)
    try:
        make_store(store_dir)
        judge = {"labeler": "judge", "options": {"endpoint": stub.url, "model": MODEL,
                 "mode": "single", "batch_size": 1, "max_tokens": 20}}  # fmt: skip
        config = {"store": str(store_dir), "max_cost": 0.0001, "label": [judge],
                  "report": {"enabled": False}}  # fmt: skip
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        plan = run_json("run", str(path), "--dry-run")
        assert (plan["requests"], len(plan["stages"]), plan["max_cost"]) == (3, 1, 0.0001)
        assert plan["cost_usd_max"] > 0.0001 and not stub.calls
        first = run_json("run", str(path))
        assert first["stopped"] == "budget"
        (stage,) = [s for s in first["stages"] if s["stage"] == "label"]
        assert stage["spent_usd"] <= 0.0001 and 0 < stage["labeled"] < 3
        config["max_cost"] = 1.0
        path.write_text(yaml.safe_dump(config))
        second = run_json("run", str(path))
        assert "stopped" not in second and len(stub.calls) == 3
        assert json.dumps(second)
    finally:
        stub.close()
