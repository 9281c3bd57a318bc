"""A store with one prompt (with a reference answer) and three candidates of known quality."""

from prefsmith.schemas.records import Candidate, Prompt, to_table
from prefsmith.store import Store

GOOD, BAD, MEH = "Knead the dough, let it rise, bake at 220C.", "No.", "Maybe buy bread."


def make_store(store_dir) -> Store:
    store = Store(store_dir)
    prompt = Prompt(
        messages=[{"role": "user", "content": "How do I bake bread?"}],
        source="t",
        reference="Knead and bake.",
    )
    store.write("prompts", to_table("prompts", [prompt]))
    store.write(
        "candidates",
        to_table("candidates", [Candidate(prompt.prompt_id, a, "t") for a in (GOOD, BAD, MEH)]),
    )
    return store
