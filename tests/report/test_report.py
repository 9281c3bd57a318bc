"""`prefsmith report agreement` on the real hh slice with labelers of known agreement."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsmith.cli.app import app
from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
from prefsmith.report.agreement import agreement_report
from prefsmith.schemas.records import Label, to_table
from prefsmith.store import Store

HH_SLICE = Path(__file__).parents[1] / "data" / "hh_rlhf_harmless_test_120.jsonl"


def test_agreement_with_human_labels(store_dir):
    store = Store(store_dir)
    ingest_hh_jsonl(HH_SLICE, store, source_key="k", source_name="hh")
    human = store.scan("labels").collect().to_dicts()
    agree, disagree = [], []
    for label in human:
        chosen, rejected = label["candidate_ids"]
        for candidate, score in ((chosen, 1.0), (rejected, 0.0)):
            agree.append(
                Label("rm-agrees", "fp", "score", label["prompt_id"], [candidate], [score])
            )
            disagree.append(
                Label("rm-disagrees", "fp", "score", label["prompt_id"], [candidate], [1.0 - score])
            )
    store.write("labels", to_table("labels", agree + disagree))
    pairs = agreement_report(store)["pairs"]
    assert pairs["human:hh-rlhf vs rm-agrees"] == {"n": 119, "agreement": 1.0, "kappa": 1.0}
    assert pairs["human:hh-rlhf vs rm-disagrees"]["agreement"] == 0.0
    # Answers are "first id wins" (+1) or not (-1); p = share of +1 among the human answers.
    p = sum(chosen < rejected for chosen, rejected in (h["candidate_ids"] for h in human)) / len(
        human
    )
    expected = 2 * p * (1 - p)  # chance agreement when one labeler always says the opposite
    assert pairs["human:hh-rlhf vs rm-disagrees"]["kappa"] == pytest.approx(
        -expected / (1 - expected), abs=1e-3
    )
    out = CliRunner().invoke(app, ["report", "agreement", "--store", str(store_dir), "--json"])
    assert json.loads(out.stdout)["pairs"]["rm-agrees vs rm-disagrees"]["agreement"] == 0.0
    table = CliRunner().invoke(app, ["report", "agreement", "--store", str(store_dir)])
    assert "human:hh-rlhf vs rm-agrees" in table.stdout and table.exit_code == 0
