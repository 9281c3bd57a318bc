from prefsmith.schemas import ids
from prefsmith.schemas.records import Candidate, Label, Prompt


def test_ids_are_stable_across_releases():
    # A changed id silently duplicates every stored row on the next ingest: pin the encoding.
    messages = [{"role": "user", "content": "Hello"}]
    assert ids.prompt_id(messages) == "e51b1e917f489f43055a267db2683e40"
    assert ids.candidate_id("p", "Hi") == "7d21c9c68e30b7de911e2543f8eabce1"
    assert ids.label_id(["a", "b"], "fp") == "9c44f164928a41826b2579bbfa1126c5"


def test_prompt_id_ignores_surrounding_whitespace_and_unicode_composition():
    composed = [{"role": "user", "content": "caf\u00e9"}]
    decomposed = [{"role": "user", "content": "  cafe\u0301\n"}]
    assert ids.prompt_id(composed) == ids.prompt_id(decomposed)


def test_prompt_id_depends_on_roles_turns_and_followups():
    base = [{"role": "user", "content": "Hi"}]
    assert ids.prompt_id(base) != ids.prompt_id([{"role": "system", "content": "Hi"}])
    assert ids.prompt_id(base) != ids.prompt_id([*base, {"role": "user", "content": "Hi"}])
    assert ids.prompt_id(base) != ids.prompt_id(base, followups=["And then?"])


def test_record_ids_follow_content():
    prompt = Prompt(messages=[{"role": "user", "content": "Hi"}], source="t")
    first = Candidate(prompt.prompt_id, "Hello!", origin="a")
    same = Candidate(prompt.prompt_id, "Hello! ", origin="b")
    other = Candidate(prompt.prompt_id, "Hey", origin="a")
    assert first.candidate_id == same.candidate_id != other.candidate_id
    forward = Label(
        "x", "fp", "pairwise", prompt.prompt_id, [first.candidate_id, other.candidate_id], [1, 0]
    )
    backward = Label(
        "x", "fp", "pairwise", prompt.prompt_id, [other.candidate_id, first.candidate_id], [1, 0]
    )
    refit = Label(
        "x", "fp2", "pairwise", prompt.prompt_id, [first.candidate_id, other.candidate_id], [1, 0]
    )
    assert len({forward.label_id, backward.label_id, refit.label_id}) == 3


def test_a_preference_pair_never_has_the_same_candidate_twice():
    import pytest

    from prefsmith.schemas.records import PreferencePair

    with pytest.raises(ValueError, match="same candidate"):
        PreferencePair("p", [{"role": "user", "content": "Hi"}], "c", "A", "c", "A")
