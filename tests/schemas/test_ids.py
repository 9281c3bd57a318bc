from prefsmith.schemas import ids
from prefsmith.schemas.records import Candidate, Label, Prompt


def test_ids_are_stable_across_releases():
    # A changed id silently duplicates every stored row on the next ingest: pin the encoding.
    messages = [{"role": "user", "content": "Hello"}]
    assert ids.prompt_id(messages) == "b59c11041b0bebda8fba6aadfbb3e119"
    assert ids.candidate_id("p", "Hi") == "8e39964bd3406ed011a42be953f721f3"
    assert ids.label_id(["a", "b"], "x", "fp") == "85612e742b6e7c6dcc0764e66e10f2b2"


def test_prompt_id_ignores_surrounding_whitespace_only():
    assert ids.prompt_id([{"role": "user", "content": "caf\u00e9"}]) == ids.prompt_id(
        [{"role": "user", "content": "  caf\u00e9\n"}]
    )
    # No Unicode normalisation: Python's and polars' Unicode tables differ by version.
    assert ids.prompt_id([{"role": "user", "content": "caf\u00e9"}]) != ids.prompt_id(
        [{"role": "user", "content": "cafe\u0301"}]
    )


def test_keys_are_length_prefixed_so_turn_boundaries_cannot_collide():
    one = [{"role": "user", "content": "a user:1:b"}]
    two = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert ids.turns_key([("user", "a"), ("user", "b")]) == "user:1:auser:1:b"
    assert ids.prompt_id(one) != ids.prompt_id(two)


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
    other_labeler = Label(
        "y", "fp", "pairwise", prompt.prompt_id, [first.candidate_id, other.candidate_id], [1, 0]
    )
    assert len({forward.label_id, backward.label_id, refit.label_id, other_labeler.label_id}) == 4


def test_a_preference_pair_never_has_the_same_candidate_twice():
    import pytest

    from prefsmith.schemas.records import PreferencePair

    with pytest.raises(ValueError, match="same candidate"):
        PreferencePair("p", [{"role": "user", "content": "Hi"}], "c", "A", "c", "A")
