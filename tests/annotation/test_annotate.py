"""The annotation round trip against a real Label Studio server: push with predictions, two
annotators rank through the API (as their browsers would), pull, agreement, a dataset from the
human rankings; re-pushes create nothing, edits update in place, cancellations are skipped."""

import pytest
from cli_runner import run_json, runner

from prefsmith.annotation.label_studio import LabelStudio
from prefsmith.builders.datasets import build_preference
from prefsmith.cli.app import app
from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
from prefsmith.schemas.builds import PreferenceBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, to_table
from prefsmith.store import Store

pytestmark = pytest.mark.label_studio


@pytest.fixture
def scored_store(store_dir):
    """The hh-rlhf slice with a length 'reward model' (longer scores higher)."""
    from conftest import HH_SLICE

    store = Store(store_dir)
    ingest_hh_jsonl(HH_SLICE, store, source_key="k", source_name="hh-rlhf")
    rows = store.scan("candidates").select("prompt_id", "candidate_id", "content").collect()
    labels = [
        Label("rm-len", "fp-len", "score", pid, [cid], [float(len(text))])
        for pid, cid, text in rows.iter_rows()
    ]
    store.write("labels", to_table("labels", labels))
    return store


def annotate(studio, project_id, annotators, disagree_on=10, cancel_one=True):
    """Annotator 0 ranks the longer answer first; annotator 1 agrees except on the first
    `disagree_on` tasks; annotator 1 cancels one more task."""
    tasks = studio.export_tasks(project_id)
    for index, task in enumerate(tasks):
        candidates = task["data"]["candidates"]
        by_length = [c["id"] for c in sorted(candidates, key=lambda c: -len(c["body"]))]
        for who, user in enumerate(annotators):
            order = by_length[::-1] if who == 1 and index < disagree_on else by_length
            cancelled = cancel_one and who == 1 and index == len(tasks) - 1
            studio.client.annotations.create(
                id=task["id"],
                completed_by=user,
                was_cancelled=cancelled,
                result=[] if cancelled else [ranking(order)],
            )
    return tasks


def ranking(order):
    value = {"ranker": {"rank": order}}
    return {"from_name": "rank", "to_name": "candidates", "type": "ranker", "value": value}


def test_push_annotate_pull_agreement_and_a_dataset_from_human_rankings(scored_store, label_studio):
    store = str(scored_store.root)
    push = ["annotate", "push", "--store", store, "--project", "hh ranking", "--limit", "50"]
    first = run_json(*push, "--labelers", "rm-len")
    assert (first["created"], first["predictions"]) == (50, 50)
    assert run_json(*push, "--labelers", "rm-len")["created"] == 0  # already in the project
    wider = run_json(*push[:-1], "60", "--labelers", "rm-len")
    assert (wider["created"], wider["already_in_project"]) == (10, 50)

    studio = LabelStudio()
    project = studio.project("hh ranking")
    exported = studio.export_tasks(project.id)
    (shown,) = studio.client.predictions.list(task=exported[0]["id"])
    assert shown.model_version.startswith("rm-len@fp-len") and shown.result[0]["type"] == "ranker"
    assert exported[0]["data"]["dialogue"][0]["role"] == "user"
    users = [
        studio.client.users.create(username=f"annotator{i}", email=f"a{i}@prefsmith.test").id
        for i in range(2)
    ]
    tasks = annotate(studio, project.id, users)

    pulled = run_json("annotate", "pull", "--store", store, "--project", "hh ranking")
    assert (pulled["new"], pulled["cancelled"], pulled["updated"]) == (
        2 * len(tasks) - 1,
        1,
        0,
    )
    again = run_json("annotate", "pull", "--store", store, "--project", "hh ranking")
    assert (again["new"], again["unchanged"]) == (0, 2 * len(tasks) - 1)

    report = run_json("report", "agreement", "--store", store)
    annotators = report["annotators"]
    assert annotators["annotators"] == 2 and annotators["items_with_two_or_more"] == len(tasks) - 1
    expected = (len(tasks) - 11) / (len(tasks) - 1)
    assert annotators["pairwise_agreement"] == pytest.approx(expected, abs=1e-4)
    assert annotators["krippendorff_alpha"] is not None and annotators["cohen_kappa"] is not None
    human_vs_model = report["pairs"]["human:label-studio vs rm-len"]
    # The consensus is a tie where the two disagreed (the first 10 tasks), and so is rm-len's
    # verdict where both answers have the same length: ties match ties only.
    strict = [len({len(c["body"]) for c in t["data"]["candidates"]}) == 2 for t in tasks]
    matches = (sum(strict[10:]) + strict[:10].count(False)) / len(tasks)
    assert human_vs_model["agreement"] == pytest.approx(matches, abs=1e-4)
    alone = report["pairs"]["rm-len vs human:label-studio[a0@prefsmith.test]"]["agreement"]
    assert alone == pytest.approx(sum(strict) / len(tasks), abs=1e-4)

    # An annotator changes their mind: the next pull rewrites that label, nothing duplicated.
    edited = studio.export_tasks(project.id)[20]
    mine = next(a for a in edited["annotations"] if a["completed_by"] == users[0])
    order = mine["result"][0]["value"]["ranker"]["rank"][::-1]
    studio.client.annotations.update(id=mine["id"], result=[ranking(order)])
    before = scored_store.count("labels")
    assert run_json("annotate", "pull", "--store", store, "--project", "hh ranking")["updated"] == 1
    assert scored_store.count("labels") == before

    summary = build_preference(
        scored_store, PreferenceBuildConfig(name="human", from_labelers=["human:label-studio"])
    )
    # Two annotators agree on all but 10 tasks and the edited one; one task has one vote.
    assert summary["rows"] == len(tasks) - 11


def test_pairwise_template_with_a_cap_per_prompt(scored_store, label_studio):
    store = str(scored_store.root)
    summary = run_json(
        "annotate", "push", "--store", store, "--project", "hh pairs", "--template", "pairwise",
        "--select", "margin", "--labelers", "rm-len", "--per-prompt", "1", "--limit", "5",
    )  # fmt: skip
    assert summary["created"] == 5
    studio = LabelStudio()
    project = studio.project("hh pairs")
    task = studio.export_tasks(project.id)[0]
    assert {"answer_a", "answer_b"} <= set(task["data"])
    assert list(studio.client.predictions.list(task=task["id"]))  # the model's choice is shown
    studio.client.annotations.create(
        id=task["id"],
        result=[
            {"from_name": "pairwise", "to_name": "pairwise", "type": "pairwise",
             "value": {"selected": "right"}}
        ],
    )  # fmt: skip
    assert run_json("annotate", "pull", "--store", store, "--project", "hh pairs")["new"] == 1
    rows = scored_store.scan("labels").collect()
    (human,) = rows.filter(rows["labeler"] == "human:label-studio").to_dicts()
    assert human["kind"] == "pairwise" and human["scores"] == [0.0, 1.0]


def test_connection_mistakes_are_one_line(label_studio, store_dir, monkeypatch):
    with pytest.raises(UserError, match="no Label Studio project titled 'nope'"):
        LabelStudio().project("nope")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "wrong-token-123456")
    with pytest.raises(UserError, match="rejected the token"):
        LabelStudio().check()
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    with pytest.raises(UserError, match="cannot reach Label Studio"):
        LabelStudio().check()
    store_dir.mkdir()
    result = runner.invoke(app, ["annotate", "pull", "--store", str(store_dir), "--project", "x"])
    assert result.exit_code == 2 and "cannot reach Label Studio" in result.output


def test_uncertain_pairs_go_to_the_annotators_and_the_next_panel_fit_uses_their_labels(
    scored_store, label_studio
):
    """Active learning on a real Label Studio: the panel's least certain pairs are pushed,
    annotated (against hh-rlhf's own verdict, to be seen), pulled, and the refit panel takes
    the annotators' verdicts on those pairs."""
    from prefsmith.builders.pairs import pair_key
    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler

    store = str(scored_store.root)
    panel = {"members": "rm-len", "gold": "human:hh-rlhf", "name": "panel"}
    first = run_labeler(scored_store, build_labeler("panel", panel))
    labels = scored_store.scan("labels").collect().filter(labeler="panel").to_dicts()
    doubt = sorted(labels, key=lambda x: (abs(x["scores"][0] - 0.5), x["label_id"]))
    expected = {pair_key(x["prompt_id"], *x["candidate_ids"]) for x in doubt[:5]}

    pushed = run_json(
        "annotate", "push", "--store", store, "--project", "uncertain", "--template",
        "pairwise", "--select", "uncertain", "--labeler", "panel", "--budget", "5",
    )  # fmt: skip
    assert pushed["created"] == 5
    studio = LabelStudio()
    project = studio.project("uncertain")
    tasks = studio.export_tasks(project.id)
    sent = {pair_key(t["data"]["prompt_id"], *t["data"]["candidate_ids"]) for t in tasks}
    assert sent == expected

    hh = scored_store.scan("labels").collect().filter(labeler="human:hh-rlhf").to_dicts()
    chosen = {tuple(sorted(x["candidate_ids"])): x["candidate_ids"][0] for x in hh}
    for task in tasks:
        a, b = task["data"]["candidate_ids"]
        other = "right" if chosen[tuple(sorted((a, b)))] == a else "left"  # disagree with hh
        studio.client.annotations.create(
            id=task["id"],
            result=[{"from_name": "pairwise", "to_name": "pairwise", "type": "pairwise",
                     "value": {"selected": other}}],
        )  # fmt: skip
    assert run_json("annotate", "pull", "--store", store, "--project", "uncertain")["new"] == 5

    refit = {**panel, "gold": "human:hh-rlhf,human:label-studio"}
    second = run_labeler(scored_store, build_labeler("panel", refit))
    assert second["gold_pairs_by_labeler"]["human:label-studio"] == 5
    assert second["gold_pairs_by_labeler"]["human:hh-rlhf"] == first["gold_pairs"] - 5
    assert second["labeled"] == first["labeled"]  # a new fit is a new fingerprint: all again
