import pytest

from prefsmith.ingest.prompt_layouts import (
    PromptRowError,
    attach_reference,
    detect_row_format,
    from_messages_row,
    from_mt_bench_row,
    from_text_row,
    reference_of,
)


def test_mt_bench_first_turn_is_the_prompt_and_later_turns_follow():
    row = {"question_id": 81, "category": "writing", "turns": ["Write a post.", "Rewrite it."]}
    prompt = from_mt_bench_row(row, "mt_bench", "question_id")
    assert prompt.messages == [{"role": "user", "content": "Write a post."}]
    assert prompt.followups == ["Rewrite it."]
    assert prompt.metadata == {"category": "writing", "source_id": 81}


def test_text_rows_keep_other_columns_as_metadata():
    prompt = from_text_row(
        {"instruction": "Say hi", "lang": "en", "id": 3}, "instruction", "s", "id"
    )
    assert prompt.messages == [{"role": "user", "content": "Say hi"}]
    assert prompt.metadata == {"lang": "en", "source_id": 3}
    with pytest.raises(PromptRowError, match="missing_prompt"):
        from_text_row({"instruction": "  "}, "instruction", "s")


def test_messages_rows_must_end_with_a_user_turn():
    ok = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }
    assert len(from_messages_row(ok, "messages", "s", None).messages) == 2
    ends_with_answer = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    }
    with pytest.raises(PromptRowError, match="last_turn_not_user"):
        from_messages_row(ends_with_answer, "messages", "s", None)
    with pytest.raises(PromptRowError, match="invalid_messages"):
        from_messages_row({"messages": [{"role": "bot", "content": "Hi"}]}, "messages", "s", None)


def test_format_detection_and_references():
    assert detect_row_format(["question_id", "turns"]) == "mt-bench"
    assert detect_row_format(["messages"]) == "messages"
    assert detect_row_format(["prompt"]) == "prompt"
    answer = {"question_id": 101, "choices": [{"index": 0, "turns": ["Second.", "Last."]}]}
    assert reference_of(answer) == (101, ["Second.", "Last."])
    assert reference_of({"id": "a", "reference": "R"}) == ("a", ["R"])
    prompt = from_mt_bench_row({"question_id": 101, "turns": ["Q1", "Q2"]}, "s", "question_id")
    before = prompt.prompt_id
    attach_reference(prompt, ["Second.", "Last."])
    assert prompt.reference == "Second." and prompt.metadata["reference_turns"] == [
        "Second.",
        "Last.",
    ]
    assert prompt.prompt_id == before
