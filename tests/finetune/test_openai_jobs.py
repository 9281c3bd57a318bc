"""`train openai` at OpenAI's HTTP boundary: upload, job, polling with backoff, and reruns that
find the job (from the store's ledger, or by the file's hash in the job metadata) instead of
paying again."""

import pytest
from fake_openai_ft import FakeFineTuning
from openai.types.fine_tuning import job_create_params

from prefsmith.builders.datasets import build_preference
from prefsmith.finetune.openai_jobs import launch_openai_job
from prefsmith.schemas.builds import PreferenceBuildConfig
from prefsmith.schemas.errors import UserError

JOB_KEYS = (
    job_create_params.JobCreateParams.__required_keys__
    | job_create_params.JobCreateParams.__optional_keys__
)


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ft")
    fake = FakeFineTuning()
    yield fake
    fake.close()


@pytest.fixture
def openai_store(hh_datasets):
    config = PreferenceBuildConfig(
        name="hh-openai", from_labelers=["human:hh-rlhf"], format="openai",
        splits={"train": 0.8, "test": 0.2},
    )  # fmt: skip
    build_preference(hh_datasets, config)
    return hh_datasets


def test_a_dpo_job_is_created_polled_and_never_paid_twice(openai_store, api):
    waits = []
    summary = launch_openai_job(
        openai_store, "hh-openai", method="dpo", beta=0.2, base_url=api.url, sleep=waits.append
    )
    assert summary["status"] == "succeeded" and summary["fine_tuned_model"].startswith("ft:")
    assert waits == [5.0, 10.0] and not summary["reused_job"]
    uploads = api.posts("/v1/files")
    assert [u["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]  # train + validation
    (job,) = api.posts("/v1/fine_tuning/jobs")
    assert set(job) <= JOB_KEYS and job["model"] == "gpt-4o-mini-2024-07-18"
    assert job["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}
    assert job["training_file"] == "file-0" and job["validation_file"] == "file-1"

    again = launch_openai_job(openai_store, "hh-openai", method="dpo", beta=0.2, base_url=api.url)
    assert again["reused_job"] and again["job_id"] == summary["job_id"]
    assert len(api.posts("/v1/files")) == 2 and len(api.posts("/v1/fine_tuning/jobs")) == 1

    (openai_store.root / "finetune" / "openai-jobs.json").unlink()  # a fresh store, same data
    found = launch_openai_job(openai_store, "hh-openai", method="dpo", beta=0.2, base_url=api.url)
    assert found["job_id"] == summary["job_id"] and len(api.posts("/v1/fine_tuning/jobs")) == 1


def test_mistakes_and_failed_jobs_are_one_line(openai_store, api, monkeypatch):
    with pytest.raises(UserError, match="needs a reward-in-prompt dataset"):
        launch_openai_job(openai_store, "hh-openai", method="sft", base_url=api.url)
    with pytest.raises(UserError, match="build it with --format openai"):
        launch_openai_job(openai_store, "hh", method="dpo", base_url=api.url)
    failing = FakeFineTuning(final_status="failed")
    try:
        with pytest.raises(UserError, match="failed: bad line 3"):
            launch_openai_job(
                openai_store, "hh-openai", method="dpo", base_url=failing.url, sleep=lambda s: None
            )
    finally:
        failing.close()
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(UserError, match="OPENAI_API_KEY is not set"):
        launch_openai_job(openai_store, "hh-openai", method="dpo", base_url=api.url)
